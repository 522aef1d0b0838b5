#include "pgstream/engine/exact_sum.hpp"

#include <cmath>
#include <limits>

#include "pgstream/common/error.hpp"

namespace pgstream::engine {
namespace {

[[noreturn]] void overflow() {
  throw Error(ErrorKind::Database, "value out of range: overflow", {.sqlstate = "22003"});
}

// Splits an int64 weight into parts that convert to double exactly.
template <class F>
void for_weight_parts(std::int64_t weight, F&& fn) {
  constexpr std::int64_t kExact = std::int64_t{1} << 53;
  if (weight > -kExact && weight < kExact) {
    fn(static_cast<double>(weight));
    return;
  }
  std::int64_t low = weight % (std::int64_t{1} << 26);
  fn(static_cast<double>(weight - low));  // at most 38 significant bits
  fn(static_cast<double>(low));
}

}  // namespace

void ExactSum::add_finite(double x) {
  // Shewchuk's grow-expansion with zero elimination: each step splits
  // x + p exactly into hi + lo (two-sum), keeps lo, carries hi on.
  if (x == 0.0) return;
  std::size_t kept = 0;
  for (double p : partials_) {
    if (std::fabs(x) < std::fabs(p)) std::swap(x, p);
    double hi = x + p;
    if (std::isinf(hi)) overflow();
    double lo = p - (hi - x);
    if (lo != 0.0) partials_[kept++] = lo;
    x = hi;
  }
  partials_.resize(kept);
  if (x != 0.0) partials_.push_back(x);
}

void ExactSum::add(double x, std::int64_t weight) {
  if (std::isnan(x)) {
    nan_ += weight;
    return;
  }
  if (std::isinf(x)) {
    (x > 0 ? pos_inf_ : neg_inf_) += weight;
    return;
  }
  if (weight == 1) {
    add_finite(x);
    return;
  }
  for_weight_parts(weight, [&](double w) { add_product(x, w); });
}

void ExactSum::add_product(double a, double b, std::int64_t weight) {
  if (weight != 1) {
    // (a * b) * w = p * w + e * w, each product split exactly again.
    double p = a * b;
    if (std::isinf(p)) overflow();
    double e = std::fma(a, b, -p);
    for_weight_parts(weight, [&](double w) {
      add_product(p, w);
      if (e != 0.0) add_product(e, w);
    });
    return;
  }
  double p = a * b;
  if (std::isinf(p)) overflow();
  double e = std::fma(a, b, -p);  // a * b = p + e exactly
  add_finite(p);
  if (e != 0.0) add_finite(e);
}

void ExactSum::add_product_of(const ExactSum& a, const ExactSum& b, double factor) {
  for (double x : a.partials_) {
    for (double y : b.partials_) add_product(x * factor, y);  // factor is +-1 or a power of two: exact
  }
}

void ExactSum::add_multiple(const ExactSum& a, std::int64_t n) {
  for (double x : a.partials_) add(x, n);
}

double ExactSum::value() const {
  if (nan_ != 0 || (pos_inf_ != 0 && neg_inf_ != 0)) return std::numeric_limits<double>::quiet_NaN();
  if (pos_inf_ != 0) return std::numeric_limits<double>::infinity();
  if (neg_inf_ != 0) return -std::numeric_limits<double>::infinity();
  // Sum from the largest partial down until the rounding error is nonzero;
  // then correct a halfway case by the sign of the partials below (the
  // expansion is exact, so this is round-half-even of the true sum).
  std::size_t n = partials_.size();
  if (n == 0) return 0.0;
  double hi = partials_[--n];
  double lo = 0.0;
  while (n > 0) {
    double x = hi;
    double y = partials_[--n];
    hi = x + y;
    double yr = hi - x;
    lo = y - yr;
    if (lo != 0.0) break;
  }
  if (n > 0 && ((lo < 0 && partials_[n - 1] < 0) || (lo > 0 && partials_[n - 1] > 0))) {
    double y = lo * 2;
    double x = hi + y;
    if (y == x - hi) hi = x;
  }
  return hi;
}

std::size_t ExactSum::bytes() const noexcept {
  return sizeof(ExactSum) + (partials_.capacity() > 2 ? partials_.capacity() * sizeof(double) : 0);
}

}  // namespace pgstream::engine
