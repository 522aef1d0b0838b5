#include "pgstream/engine/datum.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "pgstream/engine/row.hpp"

namespace pgstream::engine {

DatumKind kind_for_type_oid(std::uint32_t oid) noexcept {
  switch (oid) {
    case type_oid::kBool: return DatumKind::Bool;
    case type_oid::kBytea: return DatumKind::Bytea;
    case type_oid::kInt8: return DatumKind::Int8;
    case type_oid::kInt2: return DatumKind::Int2;
    case type_oid::kInt4: return DatumKind::Int4;
    case type_oid::kName:
    case type_oid::kText:
    case type_oid::kVarchar: return DatumKind::Text;
    case type_oid::kJson: return DatumKind::Json;
    case type_oid::kFloat4: return DatumKind::Float4;
    case type_oid::kFloat8: return DatumKind::Float8;
    case type_oid::kBpchar: return DatumKind::Bpchar;
    case type_oid::kDate: return DatumKind::Date;
    case type_oid::kTime: return DatumKind::Time;
    case type_oid::kTimestamp: return DatumKind::Timestamp;
    case type_oid::kTimestamptz: return DatumKind::TimestampTz;
    case type_oid::kInterval: return DatumKind::Interval;
    case type_oid::kNumeric: return DatumKind::Numeric;
    case type_oid::kUuid: return DatumKind::Uuid;
    case type_oid::kJsonb: return DatumKind::Jsonb;
    default: return DatumKind::PassThrough;
  }
}

std::uint32_t type_oid_for_kind(DatumKind kind) noexcept {
  switch (kind) {
    case DatumKind::Bool: return type_oid::kBool;
    case DatumKind::Int2: return type_oid::kInt2;
    case DatumKind::Int4: return type_oid::kInt4;
    case DatumKind::Int8: return type_oid::kInt8;
    case DatumKind::Float4: return type_oid::kFloat4;
    case DatumKind::Float8: return type_oid::kFloat8;
    case DatumKind::Numeric: return type_oid::kNumeric;
    case DatumKind::Text: return type_oid::kText;
    case DatumKind::Bpchar: return type_oid::kBpchar;
    case DatumKind::Bytea: return type_oid::kBytea;
    case DatumKind::Date: return type_oid::kDate;
    case DatumKind::Time: return type_oid::kTime;
    case DatumKind::Timestamp: return type_oid::kTimestamp;
    case DatumKind::TimestampTz: return type_oid::kTimestamptz;
    case DatumKind::Interval: return type_oid::kInterval;
    case DatumKind::Uuid: return type_oid::kUuid;
    case DatumKind::Json: return type_oid::kJson;
    case DatumKind::Jsonb: return type_oid::kJsonb;
    default: return 0;
  }
}

namespace {

class CCollation final : public Collation {
 public:
  int compare(std::string_view a, std::string_view b) const override {
    int c = a.compare(b);
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
};

template <class T>
int three_way(T a, T b) {
  return a < b ? -1 : (a > b ? 1 : 0);
}

// PostgreSQL's float order: NaN equals NaN and is greater than everything.
int compare_doubles(double a, double b) {
  bool na = std::isnan(a);
  bool nb = std::isnan(b);
  if (na || nb) return na && nb ? 0 : (na ? 1 : -1);
  return three_way(a, b);
}

int compare_bytes(std::span<const std::byte> a, std::span<const std::byte> b) {
  std::size_t n = std::min(a.size(), b.size());
  int c = n == 0 ? 0 : std::memcmp(a.data(), b.data(), n);
  if (c != 0) return c < 0 ? -1 : 1;
  return three_way(a.size(), b.size());
}

int compare_arrays(DatumRef a, DatumRef b, const Collation& collation) {
  ArrayView x = array_view(a);
  ArrayView y = array_view(b);
  RowRef ex(x.elements);
  RowRef ey(y.elements);
  auto ia = ex.begin();
  auto ib = ey.begin();
  std::size_t na = 0;
  std::size_t nb = 0;
  while (ia != ex.end() && ib != ey.end()) {
    int c = compare_datums(*ia, *ib, collation);
    if (c != 0) return c;
    ++ia;
    ++ib;
    ++na;
    ++nb;
  }
  for (; ia != ex.end(); ++ia) ++na;
  for (; ib != ey.end(); ++ib) ++nb;
  if (na != nb) return three_way(na, nb);
  if (x.ndim != y.ndim) return three_way(x.ndim, y.ndim);
  for (std::uint32_t d = 0; d < x.ndim; ++d) {
    if (x.length(d) != y.length(d)) return three_way(x.length(d), y.length(d));
    if (x.lower_bound(d) != y.lower_bound(d)) return three_way(x.lower_bound(d), y.lower_bound(d));
  }
  return 0;
}

}  // namespace

const Collation& c_collation() noexcept {
  static const CCollation collation;
  return collation;
}

std::int32_t ArrayView::length(std::uint32_t d) const noexcept {
  std::int32_t v;
  std::memcpy(&v, dims + static_cast<std::size_t>(d) * 8, 4);
  return v;
}

std::int32_t ArrayView::lower_bound(std::uint32_t d) const noexcept {
  std::int32_t v;
  std::memcpy(&v, dims + static_cast<std::size_t>(d) * 8 + 4, 4);
  return v;
}

ArrayView array_view(DatumRef array) noexcept {
  ArrayView v;
  auto p = array.payload();
  std::memcpy(&v.element_oid, p.data(), 4);
  std::memcpy(&v.ndim, p.data() + 4, 4);
  v.dims = p.data() + 8;
  std::size_t header = 8 + static_cast<std::size_t>(v.ndim) * 8;
  v.elements = p.subspan(header);
  return v;
}

int compare_datums(DatumRef a, DatumRef b, const Collation& collation) {
  if (a.is_null() || b.is_null()) return a.is_null() == b.is_null() ? 0 : (a.is_null() ? 1 : -1);
  if (a.is_integer() && b.is_integer()) return three_way(a.as_int(), b.as_int());
  if (a.is_float() && b.is_float()) return compare_doubles(a.as_double(), b.as_double());
  if (a.kind() != b.kind()) {
    bool ta = a.kind() == DatumKind::Timestamp || a.kind() == DatumKind::TimestampTz;
    bool tb = b.kind() == DatumKind::Timestamp || b.kind() == DatumKind::TimestampTz;
    if (ta && tb) return three_way(a.as_timestamp(), b.as_timestamp());
    return three_way(static_cast<int>(a.kind()), static_cast<int>(b.kind()));
  }
  switch (a.kind()) {
    case DatumKind::Bool: return three_way(a.as_bool(), b.as_bool());
    case DatumKind::Numeric: return a.as_numeric().compare(b.as_numeric());
    case DatumKind::Text:
    case DatumKind::Bpchar: return collation.compare(a.as_text(), b.as_text());
    case DatumKind::Date: return three_way(a.as_date(), b.as_date());
    case DatumKind::Time:
    case DatumKind::Timestamp:
    case DatumKind::TimestampTz: return three_way(a.as_int8(), b.as_int8());
    case DatumKind::Interval: return three_way(a.as_interval().span(), b.as_interval().span());
    case DatumKind::Array: return compare_arrays(a, b, collation);
    case DatumKind::PassThrough:
      if (a.pass_through_oid() != b.pass_through_oid())
        return three_way(a.pass_through_oid(), b.pass_through_oid());
      return compare_bytes(a.payload(), b.payload());
    default: return compare_bytes(a.payload(), b.payload());  // bytea, uuid, json, jsonb
  }
}

// Howard Hinnant's days_from_civil, shifted to PostgreSQL's 2000-01-01 epoch.
std::int32_t days_from_civil(std::int64_t year, unsigned month, unsigned day) noexcept {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto yoe = static_cast<unsigned>(year - era * 400);
  const unsigned doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int32_t>(era * 146097 + static_cast<std::int64_t>(doe) - 719468 - 10957);
}

void civil_from_days(std::int32_t days, std::int64_t& year, unsigned& month, unsigned& day) noexcept {
  const std::int64_t z = static_cast<std::int64_t>(days) + 10957 + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  day = doy - (153 * mp + 2) / 5 + 1;
  month = mp < 10 ? mp + 3 : mp - 9;
  year = static_cast<std::int64_t>(yoe) + era * 400 + (month <= 2 ? 1 : 0);
}

namespace {

void append_printf_int(std::string& out, const char* format, long long v) {
  char buf[32];
  int n = std::snprintf(buf, sizeof buf, format, v);
  out.append(buf, static_cast<std::size_t>(n));
}

// PostgreSQL's float output (shortest exact digits; exponent form when the
// decimal exponent is < -4 or >= the type's digits: 15 for float8, 6 for float4).
void format_float(double v, bool is_float4, std::string& out) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "-Infinity" : "Infinity";
    return;
  }
  if (v == 0) {
    out += std::signbit(v) ? "-0" : "0";
    return;
  }
  char buf[64];
  auto res = is_float4
                 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v), std::chars_format::scientific)
                 : std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<std::size_t>(res.ptr - buf));
  std::size_t e = sci.find('e');
  std::string_view mantissa = sci.substr(0, e);
  int exponent = 0;
  std::string_view exp_text = sci.substr(e + 1);
  if (!exp_text.empty() && exp_text.front() == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);
  bool negative = mantissa.front() == '-';
  if (negative) mantissa.remove_prefix(1);
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits.push_back(c);
  }
  int max_exponent = is_float4 ? 6 : 15;
  if (negative) out.push_back('-');
  if (exponent < -4 || exponent >= max_exponent) {
    out.push_back(digits[0]);
    if (digits.size() > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out += exponent < 0 ? "e-" : "e+";
    append_printf_int(out, "%02lld", std::abs(exponent));
  } else if (exponent < 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-exponent - 1), '0');
    out += digits;
  } else {
    std::size_t int_digits = static_cast<std::size_t>(exponent) + 1;
    if (digits.size() <= int_digits) {
      out += digits;
      out.append(int_digits - digits.size(), '0');
    } else {
      out.append(digits, 0, int_digits);
      out.push_back('.');
      out.append(digits, int_digits);
    }
  }
}

void format_date(std::int32_t days, std::string& out) {
  if (days == kDateNegInfinity) {
    out += "-infinity";
    return;
  }
  if (days == kDatePosInfinity) {
    out += "infinity";
    return;
  }
  std::int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  civil_from_days(days, year, month, day);
  bool bc = year <= 0;
  append_printf_int(out, "%04lld", bc ? 1 - year : year);
  append_printf_int(out, "-%02lld", month);
  append_printf_int(out, "-%02lld", day);
  if (bc) out += " BC";
}

// HH:MM:SS[.ffffff] with trailing zeros of the fraction dropped.
void format_time_of_day(std::int64_t micros, std::string& out) {
  std::int64_t secs = micros / 1000000;
  std::int64_t frac = micros % 1000000;
  append_printf_int(out, "%02lld", secs / 3600);
  append_printf_int(out, ":%02lld", (secs / 60) % 60);
  append_printf_int(out, ":%02lld", secs % 60);
  if (frac != 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(frac));
    std::string f(buf);
    while (f.back() == '0') f.pop_back();
    out += f;
  }
}

void format_timestamp(std::int64_t micros, bool with_zone, std::string& out) {
  if (micros == kTimestampNegInfinity) {
    out += "-infinity";
    return;
  }
  if (micros == kTimestampPosInfinity) {
    out += "infinity";
    return;
  }
  std::int64_t days = micros / kMicrosPerDay;
  std::int64_t rest = micros % kMicrosPerDay;
  if (rest < 0) {
    rest += kMicrosPerDay;
    --days;
  }
  std::string date;
  format_date(static_cast<std::int32_t>(days), date);
  bool bc = date.size() > 3 && date.compare(date.size() - 3, 3, " BC") == 0;
  if (bc) date.resize(date.size() - 3);
  out += date;
  out.push_back(' ');
  format_time_of_day(rest, out);
  if (with_zone) out += "+00";
  if (bc) out += " BC";
}

// IntervalStyle 'postgres', as PostgreSQL's EncodeInterval writes it.
void format_interval(const Interval& v, std::string& out) {
  bool is_before = false;
  bool is_zero = true;
  auto part = [&](std::int64_t value, const char* unit) {
    if (value == 0) return;
    if (!is_zero) out.push_back(' ');
    if (is_before && value > 0) out.push_back('+');
    append_printf_int(out, "%lld", value);
    out.push_back(' ');
    out += unit;
    if (value != 1) out.push_back('s');
    is_before = value < 0;
    is_zero = false;
  };
  part(v.months / 12, "year");
  part(v.months % 12, "mon");
  part(v.days, "day");
  if (is_zero || v.micros != 0) {
    bool minus = v.micros < 0;
    if (!is_zero) out.push_back(' ');
    if (minus) {
      out.push_back('-');
    } else if (is_before) {
      out.push_back('+');
    }
    std::int64_t m = minus ? -v.micros : v.micros;
    std::int64_t secs = m / 1000000;
    append_printf_int(out, "%02lld", secs / 3600);
    append_printf_int(out, ":%02lld", (secs / 60) % 60);
    append_printf_int(out, ":%02lld", secs % 60);
    std::int64_t frac = m % 1000000;
    if (frac != 0) {
      char buf[16];
      std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(frac));
      std::string f(buf);
      while (f.back() == '0') f.pop_back();
      out += f;
    }
  }
}

void format_hex(std::span<const std::byte> bytes, std::string& out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::byte b : bytes) {
    auto v = static_cast<unsigned>(b);
    out.push_back(kHex[v >> 4]);
    out.push_back(kHex[v & 15]);
  }
}

bool needs_array_quotes(std::string_view text) {
  if (text.empty()) return true;
  if (text.size() == 4 && (text[0] == 'N' || text[0] == 'n') && (text[1] == 'U' || text[1] == 'u') &&
      (text[2] == 'L' || text[2] == 'l') && (text[3] == 'L' || text[3] == 'l'))
    return true;
  return std::any_of(text.begin(), text.end(), [](char c) {
    return c == '{' || c == '}' || c == ',' || c == '"' || c == '\\' || c == ' ' || c == '\t' || c == '\n' ||
           c == '\r' || c == '\v' || c == '\f';
  });
}

void format_array_level(const ArrayView& a, std::uint32_t dim, RowRef::Iterator& it, std::string& out) {
  out.push_back('{');
  for (std::int32_t i = 0; i < a.length(dim); ++i) {
    if (i > 0) out.push_back(',');
    if (dim + 1 < a.ndim) {
      format_array_level(a, dim + 1, it, out);
      continue;
    }
    DatumRef e = *it;
    ++it;
    if (e.is_null()) {
      out += "NULL";
      continue;
    }
    std::string text;
    format_datum(e, text);
    if (!needs_array_quotes(text)) {
      out += text;
      continue;
    }
    out.push_back('"');
    for (char c : text) {
      if (c == '"' || c == '\\') out.push_back('\\');
      out.push_back(c);
    }
    out.push_back('"');
  }
  out.push_back('}');
}

void format_array(DatumRef d, std::string& out) {
  ArrayView a = array_view(d);
  if (a.ndim == 0) {
    out += "{}";
    return;
  }
  bool default_bounds = true;
  for (std::uint32_t i = 0; i < a.ndim; ++i) default_bounds = default_bounds && a.lower_bound(i) == 1;
  if (!default_bounds) {
    for (std::uint32_t i = 0; i < a.ndim; ++i) {
      append_printf_int(out, "[%lld", a.lower_bound(i));
      append_printf_int(out, ":%lld]", static_cast<long long>(a.lower_bound(i)) + a.length(i) - 1);
    }
    out.push_back('=');
  }
  RowRef elements(a.elements);
  auto it = elements.begin();
  format_array_level(a, 0, it, out);
}

}  // namespace

void format_datum(DatumRef d, std::string& out) {
  switch (d.kind()) {
    case DatumKind::Null: return;
    case DatumKind::Bool: out += d.as_bool() ? "t" : "f"; return;
    case DatumKind::Int2:
    case DatumKind::Int4:
    case DatumKind::Int8: append_printf_int(out, "%lld", d.as_int()); return;
    case DatumKind::Float4: format_float(d.as_float4(), true, out); return;
    case DatumKind::Float8: format_float(d.as_float8(), false, out); return;
    case DatumKind::Numeric: out += d.as_numeric().to_string(); return;
    case DatumKind::Text:
    case DatumKind::Bpchar:
    case DatumKind::Json:
    case DatumKind::Jsonb: out += d.as_text(); return;
    case DatumKind::Bytea:
      out += "\\x";
      format_hex(d.payload(), out);
      return;
    case DatumKind::Date: format_date(d.as_date(), out); return;
    case DatumKind::Time: format_time_of_day(d.as_time(), out); return;
    case DatumKind::Timestamp: format_timestamp(d.as_timestamp(), false, out); return;
    case DatumKind::TimestampTz: format_timestamp(d.as_timestamp(), true, out); return;
    case DatumKind::Interval: format_interval(d.as_interval(), out); return;
    case DatumKind::Uuid: {
      auto p = d.payload();
      format_hex(p.subspan(0, 4), out);
      out.push_back('-');
      format_hex(p.subspan(4, 2), out);
      out.push_back('-');
      format_hex(p.subspan(6, 2), out);
      out.push_back('-');
      format_hex(p.subspan(8, 2), out);
      out.push_back('-');
      format_hex(p.subspan(10, 6), out);
      return;
    }
    case DatumKind::Array: format_array(d, out); return;
    case DatumKind::PassThrough: out += d.pass_through_text(); return;
  }
}

}  // namespace pgstream::engine
