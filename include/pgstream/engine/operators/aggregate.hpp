// Aggregate functions of Reduce, each maintained from weighted updates.
//
// Contract: an Accumulator folds in (value, weight) pairs where a negative
// weight retracts, and produces PostgreSQL's result for the values currently
// present, with PostgreSQL's result types and NULL rules (count of nothing is
// 0, every other aggregate of nothing is NULL):
//   count(*), count(x)             -> int8
//   sum(int2|int4) -> int8; sum(int8) -> numeric; sum(float4) -> float4;
//   sum(float8) -> float8; sum(numeric) -> numeric (scale = max input scale)
//   avg(int*|numeric) -> numeric (numeric_div's scale); avg(float*) -> float8
//   min, max (any ordered type)   -> the input type
//   bool_and / every, bool_or      -> bool
//   bit_and, bit_or, bit_xor (int) -> the input type
// Algebraic aggregates (count, sum, avg, bool_*, bit_xor) keep O(1) state and
// never look at the group's other rows. min, max, bit_and, bit_or and every
// DISTINCT aggregate keep the group's values in an ordered multiset, so the
// deletion of the current extreme is O(log n) and never rescans the source.
// Errors: sum overflowing int8 raises 22003.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "pgstream/engine/datum.hpp"
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
};

struct AggregateSpec {
  AggregateKind kind = AggregateKind::CountStar;
  std::uint32_t column = 0;           // the argument (unused by count(*))
  DatumKind input = DatumKind::Int8;  // the argument's kind (decides the result type)
  bool distinct = false;              // agg(DISTINCT x)
  std::int32_t filter_column = -1;    // FILTER (WHERE c): a bool column; -1 = none
};

// Ordered multiset of datums (by PostgreSQL order), with multiplicities.
class ValueMultiset {
 public:
  explicit ValueMultiset(const Collation* collation) : values_(Less{collation}) {}
  // Returns +1 when the value became present, -1 when it left, else 0.
  int add(DatumRef value, std::int64_t weight);
  [[nodiscard]] bool empty() const noexcept { return values_.empty(); }
  [[nodiscard]] std::size_t distinct_count() const noexcept { return values_.size(); }
  template <class F>
  void for_each(F&& fn) const {
    for (const auto& [bytes, count] : values_)
      fn(DatumRef::decode(reinterpret_cast<const std::byte*>(bytes.data())), count);
  }
  [[nodiscard]] DatumRef min() const { return decode(values_.begin()->first); }
  [[nodiscard]] DatumRef max() const { return decode(values_.rbegin()->first); }

 private:
  static DatumRef decode(const std::string& s) {
    return DatumRef::decode(reinterpret_cast<const std::byte*>(s.data()));
  }
  struct Less {
    const Collation* collation;
    bool operator()(const std::string& a, const std::string& b) const {
      return compare_datums(decode(a), decode(b), *collation) < 0;
    }
  };
  std::map<std::string, std::int64_t, Less> values_;
};

class Accumulator {
 public:
  Accumulator() = default;
  // Folds in `weight` copies of the aggregate's input (NULLs are counted by
  // count(*) only). REQUIRES: the same spec on every call.
  void add(const AggregateSpec& spec, DatumRef value, std::int64_t weight, const Collation& collation);
  // Appends the aggregate's current result to `out`.
  void finish(const AggregateSpec& spec, RowPacker& out) const;
  [[nodiscard]] std::size_t bytes() const noexcept;

 private:
  void add_value(const AggregateSpec& spec, DatumRef value, std::int64_t weight);
  void finish_sum(const AggregateSpec& spec, RowPacker& out) const;
  void finish_avg(const AggregateSpec& spec, RowPacker& out) const;

  std::int64_t count_ = 0;  // rows (count(*)) or non-NULL values
  Int128 int_sum_ = 0;      // integer sums, bool_* false/true counts, bit_xor
  double float_sum_ = 0;    // Neumaier compensated sum of finite floats
  double float_comp_ = 0;
  std::int64_t nan_ = 0;  // specials of float/numeric sums
  std::int64_t pos_inf_ = 0;
  std::int64_t neg_inf_ = 0;
  std::unique_ptr<Numeric> numeric_sum_;
  std::unique_ptr<std::map<std::uint16_t, std::int64_t>> scales_;  // numeric sum: count per dscale
  std::unique_ptr<ValueMultiset> values_;                          // min/max/bit_and/bit_or/DISTINCT
};

}  // namespace pgstream::engine
