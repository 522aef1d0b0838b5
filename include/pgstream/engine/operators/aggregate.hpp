// Aggregate functions of Reduce, each maintained from weighted updates.
//
// Contract: an Accumulator folds in (value, weight) pairs where a negative
// weight retracts, and produces PostgreSQL 15's result for the values
// currently present, with PostgreSQL's result types and NULL rules (count
// and regr_count of nothing are 0, every other aggregate of nothing is NULL):
//   count(*), count(x)             -> int8
//   sum(int2|int4) -> int8; sum(int8) -> numeric; sum(float4) -> float4;
//   sum(float8) -> float8; sum(numeric) -> numeric (scale = max input scale)
//   avg(int*|numeric) -> numeric (numeric_div's scale); avg(float*) -> float8
//   min, max (any ordered type)   -> the input type
//   bool_and / every, bool_or      -> bool
//   bit_and, bit_or, bit_xor (int) -> the input type
//   string_agg -> text; array_agg -> array of the input; json_agg -> json
//   (elements in ORDER BY order, else in value order; ties by value)
//   json_object_agg(k, v) -> json, printed { "k" : v, "k2" : v2 } with every
//   pair; jsonb_object_agg(k, v) -> jsonb, canonical ({"k": v}, keys by
//   length then bytes, one pair per key). PostgreSQL orders pairs by input
//   order (undefined without ORDER BY); here they are in ORDER BY order, else
//   in value order, ties by key, and for a duplicate jsonb key the last pair
//   in that order wins (PostgreSQL: the last input row, nondeterministic).
//   A NULL key raises 22023 "field name must not be null" (PostgreSQL 15's
//   message for both), an array or json key 22023 "key value must be
//   scalar, ..."; a NULL value is null.
//   mode, percentile_disc -> the input type; percentile_cont -> float8, or
//   interval over interval (interval_lerp); with an array of fractions
//   (fraction_array) the result is an array of those, a NULL fraction giving
//   a NULL element; a fraction outside [0, 1] raises 22003.
//   var_pop/var_samp/variance/stddev_pop/stddev_samp/stddev(int|numeric)
//   -> numeric, exactly as numeric_stddev_internal computes them (scale of
//   select_div_scale, stddev = correctly rounded sqrt at that scale; NaN or
//   infinite inputs give NaN); (float) -> float8
//   corr, covar_pop, covar_samp, regr_slope, regr_intercept, regr_r2,
//   regr_avgx, regr_avgy, regr_sxx, regr_sxy, regr_syy(Y, X) -> float8,
//   regr_count -> int8: rows with a NULL Y or X are skipped; NULL rules of
//   float8_regr_*: covar_samp needs 2 rows, slope/intercept/r2 are NULL when
//   Sxx = 0, corr when Sxx = 0 or Syy = 0, r2 is 1 when only Syy = 0.
// Float sums (sum, avg, the variance and regression families) are exact:
// ExactSum keeps Σx, Σx², Σy, Σy², Σxy as non-overlapping expansions with
// NaN/±Infinity counted apart, so a retraction leaves no trace and the
// result depends only on the rows present. Results are the exactly rounded
// sum (sum), or PostgreSQL's formula over exactly computed centered sums,
// e.g. Sxx = (nΣx² - (Σx)²) / n rounded once; PostgreSQL's own float results
// (summed in input order, Youngs-Cramer) can differ in the last digits.
// Algebraic aggregates (count, sum, avg, variance, regression, bool_*,
// bit_xor) keep O(1) state and never look at the group's other rows. min,
// max, bit_and, bit_or, the collecting aggregates (json(b)_object_agg
// included) and every DISTINCT aggregate keep the group's values (with their
// ORDER BY key) in an ordered multiset, so the deletion of the current
// extreme is O(log n) and never rescans the source.
// Errors: sum overflowing int8 raises 22003; a float sum, square or product
// of finite values overflowing double raises 22003 (as PostgreSQL does).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "pgstream/engine/datum.hpp"
#include "pgstream/engine/exact_sum.hpp"
#include "pgstream/engine/int128.hpp"
#include "pgstream/engine/row.hpp"

namespace pgstream::engine {

enum class AggregateKind : std::uint8_t {
  CountStar,
  Count,
  Sum,
  Avg,
  Min,
  Max,
  BoolAnd,  // also every()
  BoolOr,
  BitAnd,
  BitOr,
  BitXor,
  StringAgg,       // string_agg(x, delimiter [ORDER BY ...])
  ArrayAgg,        // array_agg(x [ORDER BY ...]), NULL elements kept
  JsonAgg,         // json_agg / jsonb_agg(x [ORDER BY ...])
  VarPop,          // var_pop / variance over int and numeric (exact), float
  VarSamp,         // var_samp / variance
  StddevPop,       // stddev_pop
  StddevSamp,      // stddev_samp / stddev
  Mode,            // mode() WITHIN GROUP (ORDER BY x): most frequent, smallest on ties
  PercentileDisc,  // percentile_disc(fraction | fractions) WITHIN GROUP (ORDER BY x)
  PercentileCont,  // percentile_cont(fraction | fractions) WITHIN GROUP (ORDER BY x)
  JsonObjectAgg,   // json_object_agg(key, value): key = column, value = column2
  JsonbObjectAgg,  // jsonb_object_agg(key, value)
  // The regression family over (Y = column, X = column2), float8:
  Corr,
  CovarPop,
  CovarSamp,
  RegrSlope,
  RegrIntercept,
  RegrR2,
  RegrCount,  // -> int8
  RegrAvgX,
  RegrAvgY,
  RegrSxx,
  RegrSxy,
  RegrSyy,
};

// True for the aggregates of two arguments (column and column2).
[[nodiscard]] bool is_two_argument(AggregateKind kind) noexcept;

struct AggregateSpec {
  AggregateKind kind = AggregateKind::CountStar;
  std::uint32_t column = 0;           // the argument (unused by count(*))
  DatumKind input = DatumKind::Int8;  // the argument's kind (decides the result type)
  bool distinct = false;              // agg(DISTINCT x)
  std::int32_t filter_column = -1;    // FILTER (WHERE c): a bool column; -1 = none
  std::int32_t order_column = -1;     // agg(x ORDER BY c): -1 = by the value itself
  bool order_descending = false;
  std::int32_t column2 = -1;  // the second argument of two-argument aggregates
  // Text ordering of this aggregate's values (min/max, DISTINCT, ORDER BY);
  // null: the operator's (ReduceSpec::collation).
  const Collation* collation = nullptr;
  std::string delimiter;  // string_agg's (constant) delimiter
  double fraction = 0.5;  // percentile_*'s (constant) fraction, in [0, 1]
  // percentile_*(ARRAY[...]): the (constant, one-dimensional) fractions; the
  // result is an array with one element per fraction, NULL for a NULL one.
  bool fraction_array = false;
  std::vector<std::optional<double>> fractions;
};

// Ordered multiset of datums (by PostgreSQL order), with multiplicities.
// Entries are one datum, or two (ORDER BY key, value) ordered by the key
// first (descending if asked) and the value second. Equal entries (1.0 and
// 1.00) are one, kept in the form first added.
// Memory: up to kFlatLimit distinct entries are flat: their bytes back to
// back in one buffer ([i32 count][entry], 4 bytes + the entry; every entry
// has the same number of datums, so its size is read from its datums) plus
// a vector of their offsets in order (4 bytes; binary search, O(n)
// insertion of an offset), compacted when erased entries' bytes exceed the
// live ones. Past kFlatLimit entries (or 1 GiB, or a count outside int32,
// or an entry of another arity) they move for good to a std::map (~80 bytes
// + the entry each, O(log n) insertion).
class ValueMultiset {
 public:
  static constexpr std::size_t kFlatLimit = 1024;
  ValueMultiset(const Collation* collation, bool descending) : less_{collation, descending} {}
  // Returns +1 when the value became present, -1 when it left, else 0.
  int add(DatumRef value, std::int64_t weight);
  int add_entry(RowRef entry, std::int64_t weight);
  template <class F>
  void for_each_entry(F&& fn) const {
    visit([&](RowRef entry, std::int64_t count) { fn(entry, count); });
  }
  [[nodiscard]] bool empty() const noexcept { return distinct_count() == 0; }
  [[nodiscard]] std::size_t distinct_count() const noexcept { return tree_ ? tree_->size() : order_.size(); }
  template <class F>
  void for_each(F&& fn) const {
    visit([&](RowRef entry, std::int64_t count) { fn(DatumRef::decode(entry.data()), count); });
  }
  [[nodiscard]] DatumRef min() const;
  [[nodiscard]] DatumRef max() const;
  // Heap bytes held (this object included).
  [[nodiscard]] std::size_t bytes() const noexcept;
  // True once the entries have moved to the tree (for tests).
  [[nodiscard]] bool spilled() const noexcept { return tree_ != nullptr; }

 private:
  static constexpr std::uint32_t kHeader = 4;  // [i32 count]
  struct Less {
    const Collation* collation;
    bool descending;
    bool operator()(RowRef a, RowRef b) const;
    bool operator()(const std::string& a, const std::string& b) const {
      return (*this)(as_row(a), as_row(b));
    }
  };
  using Tree = std::map<std::string, std::int64_t, Less>;
  static RowRef as_row(const std::string& s) {
    return {reinterpret_cast<const std::byte*>(s.data()), static_cast<std::uint32_t>(s.size())};
  }
  [[nodiscard]] RowRef entry_at(std::uint32_t offset) const noexcept;
  [[nodiscard]] std::int64_t count_at(std::uint32_t offset) const noexcept;
  template <class F>
  void visit(F&& fn) const {
    if (tree_) {
      for (const auto& [key, count] : *tree_) fn(as_row(key), count);
      return;
    }
    for (std::uint32_t offset : order_) fn(entry_at(offset), count_at(offset));
  }
  int add_to_tree(RowRef entry, std::int64_t weight);
  void append(RowRef entry, std::int64_t weight, std::size_t position);
  void spill();
  void compact();

  Less less_;
  std::vector<std::byte> bytes_;      // flat entries, in the order added
  std::vector<std::uint32_t> order_;  // offsets into bytes_ of the live entries, sorted
  std::size_t dead_bytes_ = 0;        // bytes_ of erased entries
  std::uint8_t arity_ = 0;            // datums per flat entry (0: none added yet)
  std::unique_ptr<Tree> tree_;        // set once spilled; then bytes_ and order_ are empty
};

// Memory: 48 bytes inline; count, int sums, bool_*, bit_xor and numeric
// sum/avg need nothing more in the common case (a numeric sum is kept as an
// Int128 mantissa at the largest scale seen, and the scales of the rows as
// one scale while all present rows share it), nor do min/max while the
// group holds one distinct value of at most 16 encoded bytes. Out of line,
// allocated on demand: a ValueMultiset (min/max/bit_and/bit_or/collecting/
// DISTINCT), and
// one Extra block: either the exact float sums (1, 2 or 5 ExactSums) or the
// numeric rarities (NaN/±Infinity counts, the sum once it overflows Int128,
// variance's sum and sum of squares, the count per scale once two scales are
// present).
class Accumulator {
 public:
  Accumulator() noexcept;
  Accumulator(Accumulator&&) noexcept;
  Accumulator& operator=(Accumulator&&) noexcept;
  ~Accumulator();
  // Folds in `weight` copies of the aggregate's input (NULLs are counted by
  // count(*) only). REQUIRES: the same spec on every call.
  void add(const AggregateSpec& spec, DatumRef value, std::int64_t weight, const Collation& collation);
  // Applies FILTER, extracts the argument (and ORDER BY key) from the input
  // row and folds it in.
  void add_row(const AggregateSpec& spec, RowRef row, std::int64_t weight, const Collation& collation);
  // Appends the aggregate's current result to `out`.
  void finish(const AggregateSpec& spec, RowPacker& out) const;
  // Heap bytes held (this object included).
  [[nodiscard]] std::size_t bytes() const noexcept;

  // The out-of-line block (defined in aggregate.cpp).
  struct Extra;
  struct NumericState;

 private:
  static constexpr std::uint8_t kSumSpilled = 1;   // the numeric sum is NumericState::sum
  static constexpr std::uint8_t kScaleCounts = 2;  // scale counts are NumericState::scales
  static constexpr std::uint8_t kInlineValue = 4;  // min/max: the only value is in int_sum_'s bytes

  void add_value(const AggregateSpec& spec, DatumRef value, std::int64_t weight);
  bool add_inline_extreme(DatumRef value, std::int64_t weight, const Collation& collation);
  [[nodiscard]] DatumRef inline_value() const noexcept;
  void clear_inline_value() noexcept;
  void add_numeric_sum(DatumRef value, std::int64_t weight);
  bool add_inline_sum(std::span<const std::byte> packed, std::int64_t weight);
  void add_numeric_variance(DatumRef value, std::int64_t weight);
  bool add_numeric_special(std::span<const std::byte> packed, std::int64_t weight);
  void count_scale(std::uint16_t scale, std::int64_t weight);
  void add_pair(const AggregateSpec& spec, RowRef row, std::int64_t weight, const Collation& collation);
  void add_regression(DatumRef y, DatumRef x, std::int64_t weight);
  ExactSum* float_sums(std::uint8_t count);
  [[nodiscard]] const ExactSum* float_sums() const noexcept;
  NumericState& numeric_state();
  [[nodiscard]] const NumericState* find_numeric_state() const noexcept;
  [[nodiscard]] std::int64_t specials() const noexcept;
  [[nodiscard]] std::uint16_t max_scale() const noexcept;
  [[nodiscard]] Numeric numeric_sum() const;
  bool push_numeric_special(RowPacker& out) const;
  void finish_sum(const AggregateSpec& spec, RowPacker& out) const;
  void finish_avg(const AggregateSpec& spec, RowPacker& out) const;
  void finish_variance(const AggregateSpec& spec, RowPacker& out) const;
  void finish_collect(const AggregateSpec& spec, RowPacker& out) const;
  void finish_ordered_set(const AggregateSpec& spec, RowPacker& out) const;
  void push_percentile(const AggregateSpec& spec, double fraction, RowPacker& out) const;
  void finish_object(const AggregateSpec& spec, RowPacker& out) const;
  void finish_regression(const AggregateSpec& spec, RowPacker& out) const;

  // Integer sums, bool_* false counts, bit_xor; numeric sum/avg: the sum *
  // 10^sum_scale_ (unless kSumSpilled); min/max: the encoded value (if
  // kInlineValue).
  Int128 int_sum_ = 0;
  std::int64_t count_ = 0;                 // rows (count(*)) or non-NULL values
  std::unique_ptr<ValueMultiset> values_;  // min/max/bit_and/bit_or/collecting/DISTINCT
  std::unique_ptr<Extra> extra_;           // float sums or numeric rarities, on demand
  std::uint16_t sum_scale_ = 0;            // numeric sum/avg: the scale of int_sum_
  // Numeric sum/avg/variance: the dscale of every finite value present
  // (unless kScaleCounts; meaningless while none is present).
  std::uint16_t scale_ = 0;
  std::uint8_t flags_ = 0;
};

}  // namespace pgstream::engine
