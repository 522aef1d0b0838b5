// ExactSum: an exact running sum of doubles that supports retraction.
//
// Contract: the finite part is kept as Shewchuk's non-overlapping expansion
// (the partials Python's math.fsum keeps): adding x and later -x leaves
// exactly the sum of the other values, in any order, and value() is that
// sum correctly rounded (ties to even). Products are added exactly through
// FMA (add_product), so sums of squares and cross products are exact too
// (except below the normal range, where a product's rounding error itself
// underflows). NaN, +Infinity and -Infinity are counted apart, so retracting
// them makes the sum finite again; value() then follows IEEE/PostgreSQL:
// NaN if any NaN or both infinities are present, else the infinity.
// Memory: two doubles inline; an expansion rarely needs more than three.
// Errors: a finite sum or product overflowing double throws Error 22003
// ("value out of range: overflow"), as PostgreSQL's float aggregates do.
// Not thread-safe to mutate; copyable.
#pragma once

#include <boost/container/small_vector.hpp>
#include <cstddef>
#include <cstdint>

namespace pgstream::engine {

class ExactSum {
 public:
  // Adds weight * x exactly (a negative weight retracts).
  void add(double x, std::int64_t weight = 1);
  // Adds weight * a * b exactly. REQUIRES: a and b finite.
  void add_product(double a, double b, std::int64_t weight = 1);
  // Adds factor * (the finite part of a) * (the finite part of b) exactly.
  void add_product_of(const ExactSum& a, const ExactSum& b, double factor);
  // Adds n * (the finite part of a) exactly.
  void add_multiple(const ExactSum& a, std::int64_t n);

  // The correctly rounded sum, specials included.
  [[nodiscard]] double value() const;
  // True when NaN or an infinity is present.
  [[nodiscard]] bool has_special() const noexcept { return nan_ != 0 || pos_inf_ != 0 || neg_inf_ != 0; }
  // True when the finite part is exactly zero.
  [[nodiscard]] bool finite_is_zero() const noexcept { return partials_.empty(); }
  [[nodiscard]] std::size_t bytes() const noexcept;

 private:
  void add_finite(double x);  // one exact addition into the expansion

  boost::container::small_vector<double, 2> partials_;  // increasing magnitude, non-overlapping
  std::int64_t nan_ = 0;
  std::int64_t pos_inf_ = 0;
  std::int64_t neg_inf_ = 0;
};

}  // namespace pgstream::engine
