#include "pgstream/engine/row.hpp"

#include <cmath>
#include <limits>

namespace pgstream::engine {
namespace {

constexpr std::uint64_t kP0 = 0xa0761d6478bd642fULL;
constexpr std::uint64_t kP1 = 0xe7037ed1a0b428dbULL;
constexpr std::uint64_t kP2 = 0x8ebc6af09c88c6e3ULL;

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  UInt128 r = static_cast<UInt128>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

std::uint64_t read8(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

}  // namespace

std::uint64_t hash_bytes(const std::byte* data, std::size_t size) noexcept {
  std::uint64_t h = kP0 ^ (size * kP1);
  std::size_t i = 0;
  for (; i + 16 <= size; i += 16) h = mix(read8(data + i) ^ kP1, read8(data + i + 8) ^ h);
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::size_t rest = size - i;
  if (rest >= 8) {
    a = read8(data + i);
    rest -= 8;
    i += 8;
  }
  if (rest > 0) std::memcpy(&b, data + i, rest);
  return mix(h ^ kP2, mix(a ^ kP1, b ^ kP0 ^ h));
}

DatumRef RowRef::at(std::size_t i) const noexcept {
  const std::byte* p = data_;
  for (; i > 0; --i) p += DatumRef::decode(p).encoded_size();
  return DatumRef::decode(p);
}

std::size_t RowRef::arity() const noexcept {
  std::size_t n = 0;
  for (auto it = begin(); it != end(); ++it) ++n;
  return n;
}

int RowRef::compare_bytes(RowRef other) const noexcept {
  std::uint32_t n = std::min(size_, other.size_);
  int c = n == 0 ? 0 : std::memcmp(data_, other.data_, n);
  if (c != 0) return c < 0 ? -1 : 1;
  return size_ < other.size_ ? -1 : (size_ > other.size_ ? 1 : 0);
}

void RowPacker::push_float4(float v) {
  if (std::isnan(v)) v = std::numeric_limits<float>::quiet_NaN();
  if (v == 0) v = 0;  // -0 = 0
  push_fixed(DatumKind::Float4, v);
}

void RowPacker::push_float8(double v) {
  if (std::isnan(v)) v = std::numeric_limits<double>::quiet_NaN();
  if (v == 0) v = 0;
  push_fixed(DatumKind::Float8, v);
}

void RowPacker::push_numeric(const Numeric& v) {
  std::size_t at = buffer_.size();
  buffer_.push_back(static_cast<std::byte>(DatumKind::Numeric));
  buffer_.resize(at + 5);
  v.pack(buffer_);
  auto len = static_cast<std::uint32_t>(buffer_.size() - at - 5);
  std::memcpy(buffer_.data() + at + 1, &len, 4);
}

void RowPacker::push_bpchar(std::string_view v) {
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  push_variable(DatumKind::Bpchar, v.data(), v.size());
}

void RowPacker::push_interval(const Interval& v) {
  std::byte payload[16];
  std::memcpy(payload, &v.micros, 8);
  std::memcpy(payload + 8, &v.days, 4);
  std::memcpy(payload + 12, &v.months, 4);
  buffer_.push_back(static_cast<std::byte>(DatumKind::Interval));
  append(payload, 16);
}

void RowPacker::push_uuid(std::span<const std::byte, 16> v) {
  buffer_.push_back(static_cast<std::byte>(DatumKind::Uuid));
  append(v.data(), 16);
}

void RowPacker::push_pass_through(std::uint32_t oid, std::string_view text) {
  auto len = static_cast<std::uint32_t>(4 + text.size());
  buffer_.push_back(static_cast<std::byte>(DatumKind::PassThrough));
  append(reinterpret_cast<const std::byte*>(&len), 4);
  append(reinterpret_cast<const std::byte*>(&oid), 4);
  append(reinterpret_cast<const std::byte*>(text.data()), text.size());
}

void RowPacker::push_array(std::uint32_t element_oid, std::span<const std::int32_t> lengths,
                           std::span<const std::int32_t> lower_bounds, RowRef elements) {
  auto ndim = static_cast<std::uint32_t>(lengths.size());
  auto len = static_cast<std::uint32_t>(8 + ndim * 8 + elements.size());
  buffer_.push_back(static_cast<std::byte>(DatumKind::Array));
  append(reinterpret_cast<const std::byte*>(&len), 4);
  append(reinterpret_cast<const std::byte*>(&element_oid), 4);
  append(reinterpret_cast<const std::byte*>(&ndim), 4);
  for (std::uint32_t d = 0; d < ndim; ++d) {
    append(reinterpret_cast<const std::byte*>(&lengths[d]), 4);
    append(reinterpret_cast<const std::byte*>(&lower_bounds[d]), 4);
  }
  append(elements.data(), elements.size());
}

void RowPacker::push_array(std::uint32_t element_oid, RowRef elements) {
  if (elements.empty()) {
    push_array(element_oid, {}, {}, elements);
    return;
  }
  std::int32_t length = static_cast<std::int32_t>(elements.arity());
  std::int32_t lower = 1;
  push_array(element_oid, std::span(&length, 1), std::span(&lower, 1), elements);
}

void RowPacker::push_variable(DatumKind kind, const void* data, std::size_t size) {
  auto len = static_cast<std::uint32_t>(size);
  std::size_t at = buffer_.size();
  buffer_.resize(at + 5 + size);
  buffer_[at] = static_cast<std::byte>(kind);
  std::memcpy(buffer_.data() + at + 1, &len, 4);
  if (size != 0) std::memcpy(buffer_.data() + at + 5, data, size);
}

namespace {

// The justified form of an interval: the same span (PostgreSQL's
// interval_cmp_value) with |days| < 30 and |micros| < one day, every part of
// the span's sign (what justify_interval returns). Equal spans get equal
// parts, so equal intervals get equal bytes. Returns false when the parts
// would not fit (spans beyond ~178 million years: left as written).
bool justified_interval(const Interval& v, Interval& out) {
  constexpr Int128 kMonth = static_cast<Int128>(30) * kMicrosPerDay;
  Int128 span = v.span();
  Int128 months = span / kMonth;  // truncates toward zero: parts share the sign
  Int128 rest = span - months * kMonth;
  if (months > INT32_MAX || months < INT32_MIN) return false;
  out.months = static_cast<std::int32_t>(months);
  out.days = static_cast<std::int32_t>(rest / kMicrosPerDay);
  out.micros = static_cast<std::int64_t>(rest % kMicrosPerDay);
  return true;
}

}  // namespace

void RowPacker::push_normalized(DatumRef d) {
  if (d.kind() == DatumKind::Numeric) {
    Numeric n = d.as_numeric();
    if (n.is_finite() && n.dscale() != 0) {
      push_numeric(n.normalized());
      return;
    }
  } else if (d.kind() == DatumKind::Interval) {
    Interval justified;
    if (justified_interval(d.as_interval(), justified)) {
      push_interval(justified);
      return;
    }
  }
  push_datum(d);
}

void RowPacker::pack_key(RowRef r, std::span<const std::uint32_t> columns) {
  for (std::uint32_t c : columns) push_normalized(r.at(c));
}

void RowPacker::pack_columns(RowRef r, std::span<const std::uint32_t> columns) {
  for (std::uint32_t c : columns) push_datum(r.at(c));
}

void gather_columns(RowRef row, std::span<const std::uint32_t> columns, std::span<DatumRef> out) noexcept {
  // Rows are short: decode every datum once into a small stack table.
  constexpr std::size_t kMax = 64;
  DatumRef all[kMax];
  std::size_t n = 0;
  for (auto it = row.begin(); it != row.end() && n < kMax; ++it) all[n++] = *it;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    out[i] = columns[i] < n ? all[columns[i]] : row.at(columns[i]);
  }
}

bool has_null(RowRef row) noexcept {
  for (DatumRef d : row) {
    if (d.is_null()) return true;
  }
  return false;
}

std::string debug_string(RowRef row) {
  std::string out = "(";
  bool first = true;
  for (DatumRef d : row) {
    if (!first) out += ", ";
    first = false;
    if (d.is_null()) {
      out += "NULL";
    } else if (d.kind() == DatumKind::Text || d.kind() == DatumKind::Bpchar) {
      out += '\'';
      format_datum(d, out);
      out += '\'';
    } else {
      format_datum(d, out);
    }
  }
  out += ")";
  return out;
}

}  // namespace pgstream::engine
