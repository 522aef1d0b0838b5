// Evaluator interfaces: how the SQL module plugs expressions into operators.
//
// Contract: the engine never interprets SQL expressions itself. The SQL
// module compiles each scalar expression into a ScalarExpr and each WHERE /
// ON / HAVING / FILTER condition into a Predicate; operators call them once
// per row. Implementations must be deterministic (the same input row gives
// the same result on every call, or retractions would not cancel), must
// not retain the RowRef, and report SQL errors by throwing pgstream::Error
// with the SQLSTATE (22012 division by zero, 22003 out of range, ...): the
// epoch then fails as a whole. They may be called from one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "pgstream/engine/row.hpp"

namespace pgstream::engine {

// SQL's three-valued logic: WHERE keeps a row only when True.
enum class Truth : std::uint8_t { False = 0, True = 1, Unknown = 2 };

class ScalarExpr {
 public:
  virtual ~ScalarExpr() = default;
  // Appends exactly one datum, the value of the expression for `input`.
  virtual void evaluate(RowRef input, RowPacker& out) const = 0;
};

class Predicate {
 public:
  virtual ~Predicate() = default;
  [[nodiscard]] virtual Truth test(RowRef input) const = 0;
};

// One output column of a projection: a column of the input copied as is
// (the fast path, no virtual call) or an expression.
struct Projection {
  std::uint32_t column = 0;
  std::shared_ptr<const ScalarExpr> expr;  // null: copy `column`

  static Projection of_column(std::uint32_t c) { return {c, nullptr}; }
  static Projection of_expr(std::shared_ptr<const ScalarExpr> e) { return {0, std::move(e)}; }
};

// Projections that only copy columns 0..n-1 (identity) for convenience.
[[nodiscard]] std::vector<Projection> identity_projection(std::uint32_t arity);
[[nodiscard]] std::vector<Projection> column_projection(const std::vector<std::uint32_t>& columns);

// Evaluates projections into `out` (appending one datum each), walking the
// input row once for the column references.
void project_row(RowRef input, const std::vector<Projection>& projections, RowPacker& out);

}  // namespace pgstream::engine
