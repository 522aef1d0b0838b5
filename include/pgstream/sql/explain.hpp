// explain(): a LogicalPlan as an indented operator tree, one operator per
// line, children indented by two spaces, for `pgstream check` and tests.
// Shared nodes (a CTE used twice) are printed once and referred to by number.
// Pure function; thread-safe.
#pragma once

#include <string>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/sql/logical_plan.hpp"

namespace pgstream::sql {

[[nodiscard]] std::string explain(const LogicalPlan& plan);
// What `pgstream check` prints for a stream table: the logical plan, then
// the engine operators it was lowered to with the arrangements each
// collection keeps (Dataflow::explain of `output`).
[[nodiscard]] std::string explain_lowered(const LogicalPlan& plan, const engine::Dataflow& dataflow,
                                          engine::NodeId output);
// One expression in SQL-like notation (column names, operators, calls).
[[nodiscard]] std::string explain_expr(const Expr& expr);

}  // namespace pgstream::sql
