#include "pgstream/engine/operators/aggregate.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/engine/jsonb.hpp"

namespace pgstream::engine {
namespace {

// sum + weight * value; almost every weight is +1 or -1, which need no
// multiplication (each Numeric operation allocates its digits).
Numeric add_weighted(const Numeric& sum, const Numeric& value, std::int64_t weight) {
  if (weight == 1) return sum.add(value);
  if (weight == -1) return sum.sub(value);
  return sum.add(value.mul(Numeric::from_int(weight)));
}

bool collects(AggregateKind kind) {
  return kind == AggregateKind::StringAgg || kind == AggregateKind::ArrayAgg ||
         kind == AggregateKind::JsonAgg;
}

bool keeps_values(const AggregateSpec& spec) {
  return spec.distinct || spec.kind == AggregateKind::Min || spec.kind == AggregateKind::Max ||
         spec.kind == AggregateKind::BitAnd || spec.kind == AggregateKind::BitOr || collects(spec.kind) ||
         spec.kind == AggregateKind::Mode || spec.kind == AggregateKind::PercentileDisc ||
         spec.kind == AggregateKind::PercentileCont;
}

// Indexes into the float sums (Accumulator::float_sums).
constexpr std::size_t kSx = 0;
constexpr std::size_t kSxx = 1;
constexpr std::size_t kSy = 2;
constexpr std::size_t kSyy = 3;
constexpr std::size_t kSxy = 4;

bool is_object_agg(AggregateKind kind) {
  return kind == AggregateKind::JsonObjectAgg || kind == AggregateKind::JsonbObjectAgg;
}

[[noreturn]] void float_overflow() {
  throw Error(ErrorKind::Database, "value out of range: overflow", {.sqlstate = "22003"});
}

double nan_double() { return std::numeric_limits<double>::quiet_NaN(); }

// The float8 a regression argument becomes (PostgreSQL casts ints and numerics).
double to_float8(DatumRef d) {
  if (d.is_float()) return d.as_double();
  if (d.is_integer()) return static_cast<double>(d.as_int());
  return d.as_numeric().to_double();
}

// A datum's text as JSON prints it: booleans as true/false, timestamps in ISO 8601 ("T", and a
// full "+hh:mm" offset), everything else as its text output.
std::string json_scalar_text(DatumRef d) {
  if (d.kind() == DatumKind::Bool) return d.as_bool() ? "true" : "false";
  std::string text;
  format_datum(d, text);
  if ((d.kind() == DatumKind::Timestamp || d.kind() == DatumKind::TimestampTz) && text.size() > 10 &&
      text[10] == ' ') {
    text[10] = 'T';
    if (d.kind() == DatumKind::TimestampTz) {
      std::size_t sign = text.find_last_of("+-");
      if (sign != std::string::npos && sign > 10 && text.size() - sign == 3) text += ":00";
    }
  }
  return text;
}

void append_json(DatumRef d, bool jsonb, std::string& out);

// An array as JSON: nested per dimension; json prints [1,2], jsonb [1, 2].
void append_json_array(DatumRef d, bool jsonb, std::string& out) {
  ArrayView view = array_view(d);
  RowRef elements(view.elements.data(), static_cast<std::uint32_t>(view.elements.size()));
  auto it = elements.begin();
  auto level = [&](auto& self, std::uint32_t dim) -> void {
    out.push_back('[');
    for (std::int32_t i = 0; i < view.length(dim); ++i) {
      if (i > 0) out += jsonb ? ", " : ",";
      if (dim + 1 < view.ndim) {
        self(self, dim + 1);
      } else {
        append_json(*it, jsonb, out);
        ++it;
      }
    }
    out.push_back(']');
  };
  if (view.ndim == 0) {
    out += "[]";
    return;
  }
  level(level, 0);
}

// A datum as a JSON value (to_json's / to_jsonb's rules for the common
// kinds). jsonb prints numbers as numerics (a float's shortest text read as
// numeric: 1e+20 -> 100000000000000000000) and json values canonically.
void append_json(DatumRef d, bool jsonb, std::string& out) {
  if (d.is_null()) {
    out += "null";
    return;
  }
  switch (d.kind()) {
    case DatumKind::Bool: out += d.as_bool() ? "true" : "false"; return;
    case DatumKind::Array: append_json_array(d, jsonb, out); return;
    case DatumKind::Int2:
    case DatumKind::Int4:
    case DatumKind::Int8:
    case DatumKind::Jsonb: format_datum(d, out); return;
    case DatumKind::Json:
      if (jsonb) {
        out += jsonb_canonical(d.as_text());
      } else {
        format_datum(d, out);
      }
      return;
    case DatumKind::Float4:
    case DatumKind::Float8:
    case DatumKind::Numeric: {
      std::string text;
      format_datum(d, text);
      // NaN and infinities are not JSON numbers: to_json quotes them.
      if (text == "NaN" || text == "Infinity" || text == "-Infinity") {
        append_json_string(text, out);
      } else if (jsonb && d.is_float()) {
        out += Numeric::parse(text).to_string();
      } else {
        out += text;
      }
      return;
    }
    default: append_json_string(json_scalar_text(d), out); return;
  }
}

// PostgreSQL's interval_mul (15): months and days are multiplied as
// doubles and truncated; their fractions cascade down to days and seconds
// (rounded to microseconds), then the time part is multiplied and rounded.
Interval interval_mul(const Interval& span, double factor) {
  constexpr double kDaysPerMonth = 30.0;
  constexpr double kSecsPerDay = 86400.0;
  auto ts_round = [](double j) { return std::rint(j * 1e6) / 1e6; };
  auto check = [](double v) {
    if (std::isnan(v) || v > std::numeric_limits<std::int32_t>::max() ||
        v < std::numeric_limits<std::int32_t>::min())
      throw Error(ErrorKind::Database, "interval out of range", {.sqlstate = "22008"});
    return static_cast<std::int32_t>(v);
  };
  Interval r;
  r.months = check(span.months * factor);
  r.days = check(span.days * factor);
  double month_remainder_days = ts_round((span.months * factor - r.months) * kDaysPerMonth);
  double sec_remainder =
      ts_round((span.days * factor - r.days + month_remainder_days - static_cast<int>(month_remainder_days)) *
               kSecsPerDay);
  if (std::fabs(sec_remainder) >= kSecsPerDay) {
    r.days += static_cast<int>(sec_remainder / kSecsPerDay);
    sec_remainder -= static_cast<int>(sec_remainder / kSecsPerDay) * kSecsPerDay;
  }
  r.days += static_cast<std::int32_t>(month_remainder_days);
  double micros = std::rint(static_cast<double>(span.micros) * factor + sec_remainder * 1e6);
  if (std::isnan(micros) || micros < -9.2233720368547758e18 || micros >= 9.2233720368547758e18)
    throw Error(ErrorKind::Database, "interval out of range", {.sqlstate = "22008"});
  r.micros = static_cast<std::int64_t>(micros);
  return r;
}

// interval_lerp: lo + (hi - lo) * fraction.
Interval interval_lerp(const Interval& lo, const Interval& hi, double fraction) {
  Interval diff{hi.micros - lo.micros, hi.days - lo.days, hi.months - lo.months};
  Interval r = interval_mul(diff, fraction);
  return Interval{r.micros + lo.micros, r.days + lo.days, r.months + lo.months};
}

void push_int_of_kind(DatumKind kind, std::int64_t v, RowPacker& out) {
  switch (kind) {
    case DatumKind::Int2: out.push_int2(static_cast<std::int16_t>(v)); return;
    case DatumKind::Int4: out.push_int4(static_cast<std::int32_t>(v)); return;
    default: out.push_int8(v); return;
  }
}

}  // namespace

bool is_two_argument(AggregateKind kind) noexcept {
  return kind == AggregateKind::JsonObjectAgg || kind == AggregateKind::JsonbObjectAgg ||
         (kind >= AggregateKind::Corr && kind <= AggregateKind::RegrSyy);
}

bool ValueMultiset::Less::operator()(RowRef x, RowRef y) const {
  auto ix = x.begin();
  auto iy = y.begin();
  for (bool first = true; ix != x.end() && iy != y.end(); ++ix, ++iy, first = false) {
    int c = compare_datums(*ix, *iy, *collation);
    if (c != 0) return (first && descending) ? c > 0 : c < 0;
  }
  return false;  // equal under SQL order (1.0 and 1.00 are one value)
}

namespace {

// +1 when a multiplicity became positive, -1 when it stopped being, else 0.
int presence_change(std::int64_t before, std::int64_t after) {
  if (before <= 0 && after > 0) return 1;
  if (before > 0 && after <= 0) return -1;
  return 0;
}

// Grows a vector by half (not double) when `extra` more elements do not fit:
// flat multisets are many and small, so slack is a large share of them.
template <class T>
void grow_for(std::vector<T>& v, std::size_t extra) {
  if (v.size() + extra > v.capacity()) v.reserve(std::max(v.size() + extra, v.capacity() + v.capacity() / 2));
}

constexpr std::size_t kFlatBytesLimit = std::size_t{1} << 30;  // offsets are u32

}  // namespace

RowRef ValueMultiset::entry_at(std::uint32_t offset) const noexcept {
  const std::byte* start = bytes_.data() + offset + kHeader;
  const std::byte* end = start;
  for (std::uint8_t i = 0; i < arity_; ++i) end += DatumRef::decode(end).encoded_size();
  return {start, static_cast<std::uint32_t>(end - start)};
}

std::int64_t ValueMultiset::count_at(std::uint32_t offset) const noexcept {
  std::int32_t count = 0;
  std::memcpy(&count, bytes_.data() + offset, 4);
  return count;
}

DatumRef ValueMultiset::min() const {
  return DatumRef::decode(tree_ ? as_row(tree_->begin()->first).data() : entry_at(order_.front()).data());
}

DatumRef ValueMultiset::max() const {
  return DatumRef::decode(tree_ ? as_row(tree_->rbegin()->first).data() : entry_at(order_.back()).data());
}

std::size_t ValueMultiset::bytes() const noexcept {
  std::size_t total = sizeof(ValueMultiset) + bytes_.capacity() + order_.capacity() * sizeof(std::uint32_t);
  if (tree_) {
    total += sizeof(Tree);
    // A node: the red-black links (32), the key string (32) and the count.
    for (const auto& entry : *tree_)
      total += 72 + (entry.first.capacity() > 15 ? entry.first.capacity() + 1 : 0);
  }
  return total;
}

int ValueMultiset::add(DatumRef value, std::int64_t weight) {
  return add_entry(RowRef(value.encoded()), weight);
}

namespace {

bool fits_int32(std::int64_t v) {
  return v >= std::numeric_limits<std::int32_t>::min() && v <= std::numeric_limits<std::int32_t>::max();
}

std::size_t arity_of(RowRef entry) {
  std::size_t n = 0;
  for (auto it = entry.begin(); it != entry.end(); ++it) ++n;
  return n;
}

}  // namespace

int ValueMultiset::add_entry(RowRef entry, std::int64_t weight) {
  if (tree_) return add_to_tree(entry, weight);
  if (arity_ == 0) {
    std::size_t arity = arity_of(entry);
    if (arity == 0 || arity > 255) {
      spill();
      return add_to_tree(entry, weight);
    }
    arity_ = static_cast<std::uint8_t>(arity);
  } else if (arity_of(entry) != arity_) {
    spill();
    return add_to_tree(entry, weight);
  }
  auto it = std::lower_bound(order_.begin(), order_.end(), entry,
                             [&](std::uint32_t offset, RowRef key) { return less_(entry_at(offset), key); });
  if (it != order_.end() && !less_(entry, entry_at(*it))) {
    std::int64_t before = count_at(*it);
    std::int64_t after = 0;
    if (__builtin_add_overflow(before, weight, &after) || !fits_int32(after)) {
      spill();
      return add_to_tree(entry, weight);
    }
    if (after == 0) {
      dead_bytes_ += kHeader + entry_at(*it).size();
      order_.erase(it);
      if (dead_bytes_ > bytes_.size() - dead_bytes_) compact();
    } else {
      auto count = static_cast<std::int32_t>(after);
      std::memcpy(bytes_.data() + *it, &count, 4);
    }
    return presence_change(before, after);
  }
  if (weight == 0) return 0;
  if (order_.size() >= kFlatLimit || bytes_.size() + kHeader + entry.size() > kFlatBytesLimit ||
      !fits_int32(weight)) {
    spill();
    return add_to_tree(entry, weight);
  }
  append(entry, weight, static_cast<std::size_t>(it - order_.begin()));
  return presence_change(0, weight);
}

void ValueMultiset::append(RowRef entry, std::int64_t weight, std::size_t position) {
  auto offset = static_cast<std::uint32_t>(bytes_.size());
  std::uint32_t size = entry.size();
  grow_for(bytes_, kHeader + size);
  bytes_.resize(bytes_.size() + kHeader + size);
  auto count = static_cast<std::int32_t>(weight);  // REQUIRES: fits (add_entry checked)
  std::memcpy(bytes_.data() + offset, &count, 4);
  if (size != 0) std::memcpy(bytes_.data() + offset + kHeader, entry.data(), size);
  grow_for(order_, 1);
  order_.insert(order_.begin() + static_cast<std::ptrdiff_t>(position), offset);
}

// Rewrites the live entries in order, dropping the erased ones' bytes.
void ValueMultiset::compact() {
  std::vector<std::byte> bytes;
  bytes.reserve(bytes_.size() - dead_bytes_);
  for (std::uint32_t& offset : order_) {
    std::size_t size = kHeader + entry_at(offset).size();
    auto at = static_cast<std::uint32_t>(bytes.size());
    bytes.insert(bytes.end(), bytes_.begin() + offset,
                 bytes_.begin() + static_cast<std::ptrdiff_t>(offset + size));
    offset = at;
  }
  bytes_ = std::move(bytes);
  dead_bytes_ = 0;
  if (order_.capacity() > 2 * order_.size() + 4 || order_.empty()) order_.shrink_to_fit();
}

void ValueMultiset::spill() {
  tree_ = std::make_unique<Tree>(less_);
  for (std::uint32_t offset : order_) {
    RowRef entry = entry_at(offset);
    tree_->emplace_hint(tree_->end(), std::string(reinterpret_cast<const char*>(entry.data()), entry.size()),
                        count_at(offset));
  }
  std::vector<std::byte>().swap(bytes_);
  std::vector<std::uint32_t>().swap(order_);
  dead_bytes_ = 0;
}

int ValueMultiset::add_to_tree(RowRef entry, std::int64_t weight) {
  std::string key(reinterpret_cast<const char*>(entry.data()), entry.size());
  auto [it, inserted] = tree_->try_emplace(std::move(key), 0);
  std::int64_t before = it->second;
  it->second += weight;
  std::int64_t after = it->second;
  if (after == 0) tree_->erase(it);
  return presence_change(before, after);
}

void Accumulator::add(const AggregateSpec& spec, DatumRef value, std::int64_t weight,
                      const Collation& collation) {
  if (spec.kind == AggregateKind::CountStar) {
    count_ += weight;
    return;
  }
  if (value.is_null()) return;
  if (keeps_values(spec)) {
    if (!spec.distinct && (spec.kind == AggregateKind::Min || spec.kind == AggregateKind::Max) &&
        add_inline_extreme(value, weight, collation))
      return;
    if (!values_) values_ = std::make_unique<ValueMultiset>(&collation, false);
    int change = values_->add(value, weight);
    if (spec.distinct) {
      if (change == 0) return;
      weight = change;  // DISTINCT: each value counts once while present
    }
  }
  add_value(spec, value, weight);
}

// min/max (not DISTINCT) keep their value inline, in int_sum_'s bytes, while
// it is the only distinct one and its encoding fits (its multiplicity is
// then count_); a second value moves both to a ValueMultiset (returns false:
// the caller adds the new value there).
bool Accumulator::add_inline_extreme(DatumRef value, std::int64_t weight, const Collation& collation) {
  if (values_) return false;
  if ((flags_ & kInlineValue) == 0) {
    std::span<const std::byte> encoded = value.encoded();
    if (count_ != 0 || encoded.size() > sizeof(int_sum_)) return false;
    if (weight == 0) return true;
    std::memcpy(&int_sum_, encoded.data(), encoded.size());
    flags_ |= kInlineValue;
    count_ += weight;
    return true;
  }
  DatumRef held = inline_value();
  if (compare_datums(held, value, collation) == 0) {
    count_ += weight;
    if (count_ == 0) clear_inline_value();
    return true;
  }
  values_ = std::make_unique<ValueMultiset>(&collation, false);
  values_->add(held, count_);
  clear_inline_value();
  return false;
}

DatumRef Accumulator::inline_value() const noexcept {
  return DatumRef::decode(reinterpret_cast<const std::byte*>(&int_sum_));
}

void Accumulator::clear_inline_value() noexcept {
  int_sum_ = 0;
  flags_ &= static_cast<std::uint8_t>(~kInlineValue);
}

void Accumulator::add_row(const AggregateSpec& spec, RowRef row, std::int64_t weight,
                          const Collation& collation) {
  if (spec.filter_column >= 0) {
    DatumRef flag = row.at(static_cast<std::size_t>(spec.filter_column));
    if (flag.is_null() || !flag.as_bool()) return;
  }
  if (spec.kind == AggregateKind::CountStar) {
    count_ += weight;
    return;
  }
  if (is_two_argument(spec.kind)) {
    add_pair(spec, row, weight, collation);
    return;
  }
  DatumRef value = row.at(spec.column);
  if (!collects(spec.kind)) {
    add(spec, value, weight, collation);
    return;
  }
  if (value.is_null() && spec.kind == AggregateKind::StringAgg) return;
  if (!values_) values_ = std::make_unique<ValueMultiset>(&collation, spec.order_descending);
  RowPacker entry;
  if (spec.order_column >= 0) entry.push_datum(row.at(static_cast<std::size_t>(spec.order_column)));
  entry.push_datum(value);
  int change = values_->add_entry(entry.row(), weight);
  count_ += spec.distinct ? change : weight;
}

// The out-of-line block: exactly one kind per accumulator (its spec decides).
struct Accumulator::Extra {
  Extra() = default;
  Extra(const Extra&) = delete;
  Extra& operator=(const Extra&) = delete;
  virtual ~Extra() = default;
  [[nodiscard]] virtual std::size_t bytes() const noexcept = 0;
  virtual NumericState* numeric() noexcept { return nullptr; }
  virtual std::span<ExactSum> floats() noexcept { return {}; }
};

// Numeric sum/avg/variance state that the common case does without.
struct Accumulator::NumericState final : Accumulator::Extra {
  std::int64_t nan = 0;
  std::int64_t pos_inf = 0;
  std::int64_t neg_inf = 0;
  Numeric sum;  // sum/avg once kSumSpilled; variance always
  Numeric sq;   // variance: the sum of squares
  // Count per dscale, ascending, no zero counts (while kScaleCounts).
  std::vector<std::pair<std::uint16_t, std::int64_t>> scales;

  [[nodiscard]] std::size_t bytes() const noexcept override {
    return sizeof(NumericState) + sum.packed_size() + sq.packed_size() - 8 +
           scales.capacity() * sizeof(scales[0]);
  }
  NumericState* numeric() noexcept override { return this; }
};

namespace {

// The exact float sums: 1 (sum, avg), 2 (variance) or 5 (regression).
template <std::size_t N>
struct FloatSums final : Accumulator::Extra {
  std::array<ExactSum, N> sums;
  [[nodiscard]] std::size_t bytes() const noexcept override {
    std::size_t total = sizeof(FloatSums);
    for (const ExactSum& s : sums) total += s.bytes() - sizeof(ExactSum);
    return total;
  }
  std::span<ExactSum> floats() noexcept override { return sums; }
};

[[noreturn]] void state_mismatch() {
  throw Error(ErrorKind::Internal, "aggregate state of the wrong kind (an aggregate saw two argument types)");
}

// m * 10^digits; false when it overflows (m unspecified then).
bool scale_up_int128(Int128& m, unsigned digits) {
  for (; digits > 0 && m != 0; --digits) {
    if (__builtin_mul_overflow(m, Int128{10}, &m)) return false;
  }
  return true;
}

}  // namespace

Accumulator::Accumulator() noexcept = default;
Accumulator::Accumulator(Accumulator&&) noexcept = default;
Accumulator& Accumulator::operator=(Accumulator&&) noexcept = default;
Accumulator::~Accumulator() = default;

Accumulator::NumericState& Accumulator::numeric_state() {
  if (!extra_) extra_ = std::make_unique<NumericState>();
  NumericState* state = extra_->numeric();
  if (state == nullptr) state_mismatch();
  return *state;
}

const Accumulator::NumericState* Accumulator::find_numeric_state() const noexcept {
  return extra_ ? extra_->numeric() : nullptr;
}

ExactSum* Accumulator::float_sums(std::uint8_t count) {
  if (!extra_) {
    if (count == 1) {
      extra_ = std::make_unique<FloatSums<1>>();
    } else if (count == 2) {
      extra_ = std::make_unique<FloatSums<2>>();
    } else {
      extra_ = std::make_unique<FloatSums<5>>();
    }
  }
  std::span<ExactSum> sums = extra_->floats();
  if (sums.size() < count) state_mismatch();
  return sums.data();
}

const ExactSum* Accumulator::float_sums() const noexcept {
  return extra_ ? extra_->floats().data() : nullptr;
}

std::int64_t Accumulator::specials() const noexcept {
  const NumericState* state = find_numeric_state();
  return state != nullptr ? state->nan + state->pos_inf + state->neg_inf : 0;
}

// The largest dscale among the finite numeric values present (0 if none).
std::uint16_t Accumulator::max_scale() const noexcept {
  if ((flags_ & kScaleCounts) != 0) return find_numeric_state()->scales.back().first;
  return count_ - specials() != 0 ? scale_ : 0;
}

// Counts `weight` finite values of dscale `scale` (called after count_ took
// them in). One scale is kept inline while all finite values present share
// it; a second one moves the counts to NumericState::scales until one is left.
void Accumulator::count_scale(std::uint16_t scale, std::int64_t weight) {
  if (weight == 0) return;
  if ((flags_ & kScaleCounts) == 0) {
    std::int64_t before = count_ - weight - specials();  // finite values before this one
    if (before == 0 || scale == scale_) {
      scale_ = scale;
      return;
    }
    auto& scales = numeric_state().scales;
    scales.clear();
    scales.emplace_back(scale_, before);
    scales.emplace_back(scale, weight);
    if (scale < scale_) std::swap(scales[0], scales[1]);
    flags_ |= kScaleCounts;
    return;
  }
  auto& scales = numeric_state().scales;
  auto it = std::lower_bound(scales.begin(), scales.end(), scale,
                             [](const auto& entry, std::uint16_t s) { return entry.first < s; });
  if (it != scales.end() && it->first == scale) {
    it->second += weight;
    if (it->second == 0) scales.erase(it);
  } else {
    scales.insert(it, {scale, weight});
  }
  if (scales.size() <= 1) {
    if (!scales.empty()) scale_ = scales[0].first;
    std::vector<std::pair<std::uint16_t, std::int64_t>>().swap(scales);
    flags_ &= static_cast<std::uint8_t>(~kScaleCounts);
  }
}

// NaN and ±Infinity are counted apart; returns false for a finite value.
bool Accumulator::add_numeric_special(std::span<const std::byte> packed, std::int64_t weight) {
  Numeric::Special special = Numeric::packed_special(packed);
  if (special == Numeric::Special::Finite) return false;
  NumericState& state = numeric_state();
  if (special == Numeric::Special::NaN) {
    state.nan += weight;
  } else {
    (special == Numeric::Special::PosInf ? state.pos_inf : state.neg_inf) += weight;
  }
  return true;
}

// sum/avg of numeric: int_sum_ is the sum * 10^sum_scale_, sum_scale_ the
// largest dscale seen; the first value that does not fit moves the sum to a
// Numeric for good (until the group empties).
void Accumulator::add_numeric_sum(DatumRef value, std::int64_t weight) {
  std::span<const std::byte> packed = value.payload();
  if (add_numeric_special(packed, weight)) return;
  count_scale(Numeric::packed_dscale(packed), weight);
  if ((flags_ & kSumSpilled) == 0) {
    if (add_inline_sum(packed, weight)) return;
    numeric_state().sum = Numeric::from_scaled_int128(int_sum_, sum_scale_);
    int_sum_ = 0;
    sum_scale_ = 0;
    flags_ |= kSumSpilled;
  }
  NumericState& state = numeric_state();
  state.sum = add_weighted(state.sum, value.as_numeric(), weight);
}

bool Accumulator::add_inline_sum(std::span<const std::byte> packed, std::int64_t weight) {
  std::uint16_t dscale = Numeric::packed_dscale(packed);
  Int128 sum = int_sum_;
  std::uint16_t scale = std::max(sum_scale_, dscale);
  Int128 v = 0;
  if (!scale_up_int128(sum, scale - sum_scale_) || !Numeric::packed_scaled_int128(packed, scale, v) ||
      __builtin_mul_overflow(v, static_cast<Int128>(weight), &v) || __builtin_add_overflow(sum, v, &sum))
    return false;
  int_sum_ = sum;
  sum_scale_ = scale;
  return true;
}

void Accumulator::add_numeric_variance(DatumRef value, std::int64_t weight) {
  if (!value.is_integer() && add_numeric_special(value.payload(), weight)) return;
  Numeric n = value.is_integer() ? Numeric::from_int(value.as_int()) : value.as_numeric();
  if (!value.is_integer()) count_scale(n.dscale(), weight);
  NumericState& state = numeric_state();
  state.sum = add_weighted(state.sum, n, weight);
  state.sq = add_weighted(state.sq, n.mul(n), weight);
}

void Accumulator::add_value(const AggregateSpec& spec, DatumRef value, std::int64_t weight) {
  count_ += weight;
  switch (spec.kind) {
    case AggregateKind::Sum:
    case AggregateKind::Avg:
      if (value.is_integer()) {
        int_sum_ += static_cast<Int128>(value.as_int()) * weight;
      } else if (value.is_float()) {
        float_sums(1)[kSx].add(value.as_double(), weight);
      } else if (value.kind() == DatumKind::Numeric) {
        add_numeric_sum(value, weight);
      } else {
        throw Error(ErrorKind::Unsupported, "sum/avg of this type is not supported incrementally");
      }
      return;
    case AggregateKind::BoolAnd:
    case AggregateKind::BoolOr:
      if (!value.as_bool()) int_sum_ += weight;  // number of false values
      return;
    case AggregateKind::VarPop:
    case AggregateKind::VarSamp:
    case AggregateKind::StddevPop:
    case AggregateKind::StddevSamp:
      if (value.is_float()) {
        double v = value.as_double();
        ExactSum* sums = float_sums(2);
        sums[kSx].add(v, weight);
        if (std::isfinite(v)) sums[kSxx].add_product(v, v, weight);
      } else {
        add_numeric_variance(value, weight);
      }
      return;
    case AggregateKind::BitXor:
      if (weight % 2 != 0) int_sum_ ^= static_cast<Int128>(static_cast<std::uint64_t>(value.as_int()));
      return;
    default: return;  // count, min, max, bit_and, bit_or: count_ or values_ suffice
  }
}

// Two-argument aggregates: json(b)_object_agg(key, value) keeps its pairs
// (ordered by the ORDER BY key, then the value, then the key); the
// regression family skips rows with a NULL and keeps exact sums.
void Accumulator::add_pair(const AggregateSpec& spec, RowRef row, std::int64_t weight,
                           const Collation& collation) {
  DatumRef a = row.at(spec.column);
  DatumRef b = row.at(static_cast<std::size_t>(spec.column2));
  bool object = is_object_agg(spec.kind);
  if (object) {
    if (a.is_null()) throw Error(ErrorKind::Database, "field name must not be null", {.sqlstate = "22023"});
    if (a.kind() == DatumKind::Array || a.kind() == DatumKind::Json || a.kind() == DatumKind::Jsonb)
      throw Error(ErrorKind::Database, "key value must be scalar, not array, composite, or json",
                  {.sqlstate = "22023"});
  } else if (a.is_null() || b.is_null()) {
    return;
  }
  if (object || spec.distinct) {
    RowPacker entry;
    if (object) {
      if (spec.order_column >= 0) entry.push_datum(row.at(static_cast<std::size_t>(spec.order_column)));
      entry.push_datum(b);
      entry.push_datum(a);
    } else {
      entry.push_datum(a);
      entry.push_datum(b);
    }
    if (!values_) values_ = std::make_unique<ValueMultiset>(&collation, object && spec.order_descending);
    int change = values_->add_entry(entry.row(), weight);
    if (spec.distinct) {
      if (change == 0) return;
      weight = change;  // DISTINCT: each pair counts once while present
    }
  }
  count_ += weight;
  if (!object) add_regression(a, b, weight);
}

void Accumulator::add_regression(DatumRef y, DatumRef x, std::int64_t weight) {
  double yv = to_float8(y);
  double xv = to_float8(x);
  ExactSum* sums = float_sums(5);
  sums[kSx].add(xv, weight);
  sums[kSy].add(yv, weight);
  if (std::isfinite(xv)) sums[kSxx].add_product(xv, xv, weight);
  if (std::isfinite(yv)) sums[kSyy].add_product(yv, yv, weight);
  if (std::isfinite(xv) && std::isfinite(yv)) sums[kSxy].add_product(xv, yv, weight);
}

void Accumulator::finish_sum(const AggregateSpec& spec, RowPacker& out) const {
  switch (spec.input) {
    case DatumKind::Int2:
    case DatumKind::Int4:
      if (int_sum_ > std::numeric_limits<std::int64_t>::max() ||
          int_sum_ < std::numeric_limits<std::int64_t>::min())
        throw Error(ErrorKind::Database, "bigint out of range", {.sqlstate = "22003"});
      out.push_int8(static_cast<std::int64_t>(int_sum_));
      return;
    case DatumKind::Int8: out.push_numeric(Numeric::from_int128(int_sum_)); return;
    case DatumKind::Float4:
    case DatumKind::Float8: {
      const ExactSum* sums = float_sums();
      double v = sums != nullptr ? sums[kSx].value() : 0.0;
      if (spec.input == DatumKind::Float4) {
        auto f = static_cast<float>(v);
        if (std::isinf(f) && !std::isinf(v)) float_overflow();  // float4pl's check
        out.push_float4(f);
      } else {
        out.push_float8(v);
      }
      return;
    }
    default:
      if (!push_numeric_special(out)) out.push_numeric(numeric_sum().rescaled(max_scale()));
      return;
  }
}

// The numeric sum of the finite values present, at the largest scale seen.
Numeric Accumulator::numeric_sum() const {
  if ((flags_ & kSumSpilled) != 0) return find_numeric_state()->sum;
  return Numeric::from_scaled_int128(int_sum_, sum_scale_);
}

// sum/avg of numeric with NaN or an infinity present: NaN if any NaN or both
// infinities, else the infinity (PostgreSQL's numeric accumulation).
bool Accumulator::push_numeric_special(RowPacker& out) const {
  const NumericState* state = find_numeric_state();
  if (state == nullptr) return false;
  if (state->nan != 0 || (state->pos_inf != 0 && state->neg_inf != 0)) {
    out.push_numeric(Numeric::nan());
    return true;
  }
  if (state->pos_inf != 0 || state->neg_inf != 0) {
    out.push_numeric(Numeric::infinity(state->neg_inf != 0));
    return true;
  }
  return false;
}

void Accumulator::finish_avg(const AggregateSpec& spec, RowPacker& out) const {
  if (spec.input == DatumKind::Float4 || spec.input == DatumKind::Float8) {
    const ExactSum* sums = float_sums();
    out.push_float8((sums != nullptr ? sums[kSx].value() : 0.0) / static_cast<double>(count_));
    return;
  }
  if (spec.input == DatumKind::Numeric) {
    if (!push_numeric_special(out)) out.push_numeric(numeric_sum().rescaled(max_scale()).div_int(count_));
    return;
  }
  out.push_numeric(Numeric::from_int128(int_sum_).div_int(count_));
}

void Accumulator::finish_variance(const AggregateSpec& spec, RowPacker& out) const {
  bool sample = spec.kind == AggregateKind::VarSamp || spec.kind == AggregateKind::StddevSamp;
  if (sample && count_ < 2) {
    out.push_null();
    return;
  }
  bool stddev = spec.kind == AggregateKind::StddevPop || spec.kind == AggregateKind::StddevSamp;
  if (spec.input == DatumKind::Float4 || spec.input == DatumKind::Float8) {
    // n * Σx² - (Σx)² exactly, rounded once; any NaN or infinity gives NaN
    // (PostgreSQL's float8_accum).
    const ExactSum* sums = float_sums();
    if (sums[kSx].has_special()) {
      out.push_float8(nan_double());
      return;
    }
    ExactSum numerator;
    numerator.add_multiple(sums[kSxx], count_);
    numerator.add_product_of(sums[kSx], sums[kSx], -1.0);
    double num = numerator.value();
    if (std::isinf(num)) float_overflow();
    auto n = static_cast<double>(count_);
    double v = num / (n * (sample ? n - 1 : n));
    out.push_float8(stddev ? std::sqrt(v) : v);
    return;
  }
  if (specials() != 0) {
    out.push_numeric(Numeric::nan());  // numeric_stddev_internal: any special gives NaN
    return;
  }
  // PostgreSQL's numeric_stddev_internal: (n * Σx² - (Σx)²) at scale 2 * the
  // inputs' largest scale, divided by n * (n - 1) or n * n with
  // select_div_scale; stddev is the square root at that same scale.
  std::uint16_t scale = max_scale();
  const NumericState* state = find_numeric_state();
  Numeric n = Numeric::from_int(count_);
  Numeric sum = state != nullptr ? state->sum.rescaled(scale) : Numeric();
  Numeric sq = state != nullptr ? state->sq.rescaled(static_cast<std::uint16_t>(2 * scale)) : Numeric();
  Numeric numerator = n.mul(sq).sub(sum.mul(sum));
  if (numerator.compare(Numeric()) <= 0) {
    out.push_numeric(Numeric());
    return;
  }
  Int128 denominator = static_cast<Int128>(count_) * (sample ? count_ - 1 : count_);
  Numeric variance = numerator.div(Numeric::from_int128(denominator));
  out.push_numeric(stddev ? variance.sqrt_scaled(variance.dscale()) : variance);
}

void Accumulator::finish_collect(const AggregateSpec& spec, RowPacker& out) const {
  bool ordered = spec.order_column >= 0;
  auto value_of = [&](RowRef entry) { return ordered ? entry.at(1) : entry.at(0); };
  if (spec.kind == AggregateKind::ArrayAgg) {
    RowPacker elements;
    values_->for_each_entry([&](RowRef entry, std::int64_t count) {
      for (std::int64_t i = 0; i < (spec.distinct ? 1 : count); ++i) elements.push_datum(value_of(entry));
    });
    out.push_array(type_oid_for_kind(spec.input), elements.row());
    return;
  }
  std::string text;
  if (spec.kind == AggregateKind::JsonAgg) text.push_back('[');
  bool first = true;
  values_->for_each_entry([&](RowRef entry, std::int64_t count) {
    for (std::int64_t i = 0; i < (spec.distinct ? 1 : count); ++i) {
      if (!first)
        text +=
            spec.kind == AggregateKind::JsonAgg ? std::string_view(", ") : std::string_view(spec.delimiter);
      first = false;
      if (spec.kind == AggregateKind::JsonAgg) {
        append_json(value_of(entry), false, text);
      } else {
        format_datum(value_of(entry), text);
      }
    }
  });
  if (spec.kind == AggregateKind::JsonAgg) {
    text.push_back(']');
    out.push_json(text);
  } else {
    out.push_text(text);
  }
}

// The ordered-set aggregates read the group's sorted multiset.
void Accumulator::finish_ordered_set(const AggregateSpec& spec, RowPacker& out) const {
  if (spec.kind == AggregateKind::Mode) {
    DatumRef best;
    std::int64_t best_count = 0;
    values_->for_each([&](DatumRef v, std::int64_t count) {
      if (count > best_count) {
        best = v;
        best_count = count;
      }
    });
    out.push_datum(best);
    return;
  }
  if (!spec.fraction_array) {
    push_percentile(spec, spec.fraction, out);
    return;
  }
  // percentile_*(ARRAY[...]): one element per fraction, NULL for NULL.
  RowPacker elements;
  for (const std::optional<double>& f : spec.fractions) {
    if (!f) {
      elements.push_null();
      continue;
    }
    if (*f < 0 || *f > 1 || std::isnan(*f)) {
      std::string text;
      RowPacker p;
      p.push_float8(*f);
      format_datum(p.row().at(0), text);
      throw Error(ErrorKind::Database, "percentile value " + text + " is not between 0 and 1",
                  {.sqlstate = "22003"});
    }
    push_percentile(spec, *f, elements);
  }
  DatumKind element = spec.kind == AggregateKind::PercentileDisc ? spec.input
                      : spec.input == DatumKind::Interval        ? DatumKind::Interval
                                                                 : DatumKind::Float8;
  out.push_array(type_oid_for_kind(element), elements.row());
}

// One percentile. PostgreSQL: percentile_disc takes the first value at or
// past position ceil(f * n); percentile_cont interpolates between positions
// floor(f * (n - 1)) and ceil(f * (n - 1)) (0-based), float8_lerp or
// interval_lerp.
void Accumulator::push_percentile(const AggregateSpec& spec, double fraction, RowPacker& out) const {
  auto n = static_cast<double>(count_);
  auto target_disc = static_cast<std::int64_t>(std::ceil(fraction * n));
  double position = fraction * (n - 1);
  auto lo = static_cast<std::int64_t>(std::floor(position));
  auto hi = static_cast<std::int64_t>(std::ceil(position));
  DatumRef disc;
  DatumRef lo_value;
  DatumRef hi_value;
  Interval lo_interval;  // read inside the walk, where the values are known
  Interval hi_interval;
  bool interval = spec.input == DatumKind::Interval;
  std::int64_t seen = 0;
  values_->for_each([&](DatumRef v, std::int64_t count) {
    std::int64_t first = seen;  // 0-based positions [first, first + count)
    seen += count;
    if (disc.is_null() && seen >= std::max<std::int64_t>(target_disc, 1)) disc = v;
    if (lo >= first && lo < seen) {
      lo_value = v;
      if (interval) lo_interval = v.as_interval();
    }
    if (hi >= first && hi < seen) {
      hi_value = v;
      if (interval) hi_interval = v.as_interval();
    }
  });
  if (spec.kind == AggregateKind::PercentileDisc) {
    out.push_datum(disc);
    return;
  }
  if (interval) {
    out.push_interval(lo == hi ? lo_interval
                               : interval_lerp(lo_interval, hi_interval, position - static_cast<double>(lo)));
    return;
  }
  auto as_double = [](DatumRef d) {
    if (d.is_integer()) return static_cast<double>(d.as_int());
    if (d.is_float()) return d.as_double();
    return d.as_numeric().to_double();
  };
  double a = as_double(lo_value);
  double b = as_double(hi_value);
  out.push_float8(lo == hi ? a : a + (position - static_cast<double>(lo)) * (b - a));
}

// json_object_agg prints { "k" : v, "k2" : v2 } with every pair; jsonb_object_agg
// prints canonical jsonb: keys ordered by length then bytes, one pair per key
// (the last in the pairs' order wins, as PostgreSQL keeps the last input).
void Accumulator::finish_object(const AggregateSpec& spec, RowPacker& out) const {
  bool jsonb = spec.kind == AggregateKind::JsonbObjectAgg;
  std::size_t at = spec.order_column >= 0 ? 1 : 0;
  struct Pair {
    std::string key;  // the key's text
    std::string value;
  };
  std::vector<Pair> pairs;
  values_->for_each_entry([&](RowRef entry, std::int64_t count) {
    Pair p{json_scalar_text(entry.at(at + 1)), {}};
    append_json(entry.at(at), jsonb, p.value);
    for (std::int64_t i = 0; i < (spec.distinct ? 1 : count); ++i) pairs.push_back(p);
  });
  std::string text;
  if (!jsonb) {
    text = "{ ";
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      if (i > 0) text += ", ";
      append_json_string(pairs[i].key, text);
      text += " : ";
      text += pairs[i].value;
    }
    text += " }";
    out.push_json(text);
    return;
  }
  std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) {
    if (a.key.size() != b.key.size()) return a.key.size() < b.key.size();
    return a.key < b.key;  // bytewise (std::string compares as unsigned char)
  });
  text = "{";
  bool first = true;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (i + 1 < pairs.size() && pairs[i + 1].key == pairs[i].key) continue;  // a later pair wins
    if (!first) text += ", ";
    first = false;
    append_json_string(pairs[i].key, text);
    text += ": ";
    text += pairs[i].value;
  }
  text += "}";
  out.push_jsonb(text);
}

// PostgreSQL's float8_regr_* final functions over Sx, Sy and the centered
// sums Sxx = Σ(x - x̄)², Syy, Sxy; here each centered sum is
// (n Σab - Σa Σb) / n with the numerator exact and rounded once. Sxx is NaN
// when any X is NaN or infinite (Syy likewise, Sxy when either is).
void Accumulator::finish_regression(const AggregateSpec& spec, RowPacker& out) const {
  const ExactSum* sums = float_sums();
  auto n = static_cast<double>(count_);
  auto centered = [&](std::size_t ab, std::size_t a, std::size_t b) {
    ExactSum numerator;
    numerator.add_multiple(sums[ab], count_);
    numerator.add_product_of(sums[a], sums[b], -1.0);
    double v = numerator.value();
    if (std::isinf(v)) float_overflow();
    return v / n;
  };
  bool x_special = sums[kSx].has_special();
  bool y_special = sums[kSy].has_special();
  double sxx = x_special ? nan_double() : centered(kSxx, kSx, kSx);
  double syy = y_special ? nan_double() : centered(kSyy, kSy, kSy);
  double sxy = x_special || y_special ? nan_double() : centered(kSxy, kSx, kSy);
  double sx = sums[kSx].value();
  double sy = sums[kSy].value();
  switch (spec.kind) {
    case AggregateKind::RegrSxx: out.push_float8(sxx); return;
    case AggregateKind::RegrSyy: out.push_float8(syy); return;
    case AggregateKind::RegrSxy: out.push_float8(sxy); return;
    case AggregateKind::RegrAvgX: out.push_float8(sx / n); return;
    case AggregateKind::RegrAvgY: out.push_float8(sy / n); return;
    case AggregateKind::CovarPop: out.push_float8(sxy / n); return;
    case AggregateKind::CovarSamp:
      if (count_ < 2) {
        out.push_null();
      } else {
        out.push_float8(sxy / (n - 1));
      }
      return;
    case AggregateKind::Corr:
      if (sxx == 0 || syy == 0) {  // horizontal or vertical line
        out.push_null();
      } else {
        out.push_float8(sxy / std::sqrt(sxx * syy));
      }
      return;
    case AggregateKind::RegrR2:
      if (sxx == 0) {
        out.push_null();
      } else {
        out.push_float8(syy == 0 ? 1.0 : (sxy * sxy) / (sxx * syy));
      }
      return;
    case AggregateKind::RegrSlope:
    case AggregateKind::RegrIntercept:
      if (sxx == 0) {
        out.push_null();
      } else if (spec.kind == AggregateKind::RegrSlope) {
        out.push_float8(sxy / sxx);
      } else {
        out.push_float8((sy - sx * sxy / sxx) / n);
      }
      return;
    default: out.push_null(); return;
  }
}

void Accumulator::finish(const AggregateSpec& spec, RowPacker& out) const {
  if (spec.kind == AggregateKind::CountStar || spec.kind == AggregateKind::Count ||
      spec.kind == AggregateKind::RegrCount) {
    out.push_int8(count_);
    return;
  }
  if (count_ <= 0) {
    out.push_null();
    return;
  }
  switch (spec.kind) {
    case AggregateKind::Sum: finish_sum(spec, out); return;
    case AggregateKind::Avg: finish_avg(spec, out); return;
    case AggregateKind::Min:
      out.push_datum((flags_ & kInlineValue) != 0 ? inline_value() : values_->min());
      return;
    case AggregateKind::Max:
      out.push_datum((flags_ & kInlineValue) != 0 ? inline_value() : values_->max());
      return;
    case AggregateKind::BoolAnd: out.push_bool(int_sum_ == 0); return;
    case AggregateKind::BoolOr: out.push_bool(count_ - int_sum_ > 0); return;
    case AggregateKind::BitAnd:
    case AggregateKind::BitOr: {
      bool is_and = spec.kind == AggregateKind::BitAnd;
      std::int64_t acc = is_and ? -1 : 0;
      values_->for_each(
          [&](DatumRef v, std::int64_t) { acc = is_and ? (acc & v.as_int()) : (acc | v.as_int()); });
      push_int_of_kind(spec.input, acc, out);
      return;
    }
    case AggregateKind::BitXor:
      push_int_of_kind(spec.input, static_cast<std::int64_t>(static_cast<std::uint64_t>(int_sum_)), out);
      return;
    case AggregateKind::StringAgg:
    case AggregateKind::ArrayAgg:
    case AggregateKind::JsonAgg: finish_collect(spec, out); return;
    case AggregateKind::Mode:
    case AggregateKind::PercentileDisc:
    case AggregateKind::PercentileCont: finish_ordered_set(spec, out); return;
    case AggregateKind::VarPop:
    case AggregateKind::VarSamp:
    case AggregateKind::StddevPop:
    case AggregateKind::StddevSamp: finish_variance(spec, out); return;
    case AggregateKind::JsonObjectAgg:
    case AggregateKind::JsonbObjectAgg: finish_object(spec, out); return;
    default: finish_regression(spec, out); return;
  }
}

std::size_t Accumulator::bytes() const noexcept {
  std::size_t total = sizeof(Accumulator);
  if (extra_) total += extra_->bytes();
  if (values_) total += values_->bytes();
  return total;
}

}  // namespace pgstream::engine
