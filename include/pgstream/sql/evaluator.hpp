// The native expression evaluator: compiles the plan's scalar expressions
// (the nodes marked Evaluation::Native) into the engine's ScalarExpr and
// Predicate objects, evaluated per row with PostgreSQL's exact semantics.
//
// Contract:
// - compile_scalar() / compile_predicate() never evaluate a node they do not
//   implement exactly: they return a null `expr` and name the first such node
//   in `unsupported` (e.g. "the function md5()"); the caller then sends the
//   expression to the server-side evaluator (or rejects the query).
// - Column references resolve through `input`, the bindings of the input
//   row's columns in order; a binding not in `input` is an Internal error.
// - Evaluation throws pgstream::Error{Database} with PostgreSQL's SQLSTATE
//   (22003 out of range, 22012 division by zero, 22P02 bad input, ...).
// - Text ordering (< <= > >=, GREATEST/LEAST): under the "C"/"POSIX"
//   collations bytewise; under the database default collation through
//   `collation`, which must implement the database's datcollate (kept by
//   reference: it must outlive the compiled objects); under any other
//   collation not native. Equality is bytewise (deterministic collations).
// - Compiled objects keep per-node scratch buffers (no allocation per row once
//   grown, except numeric arithmetic, which allocates): evaluate them from
//   one thread at a time, as the engine's evaluator contract requires.
#pragma once

#include <memory>
#include <span>
#include <string>

#include "pgstream/engine/datum.hpp"
#include "pgstream/engine/evaluator.hpp"
#include "pgstream/sql/logical_plan.hpp"

namespace pgstream::sql {

struct NativeScalar {
  std::shared_ptr<const engine::ScalarExpr> expr;  // null: not natively evaluable
  std::string unsupported;                         // then: what is not, for messages
};

struct NativePredicate {
  std::shared_ptr<const engine::Predicate> predicate;  // null: not natively evaluable
  std::string unsupported;
};

[[nodiscard]] NativeScalar compile_scalar(const Expr& expr, std::span<const ColumnBinding> input,
                                          const engine::Collation& collation = engine::c_collation());

// REQUIRES: expr is of type boolean.
[[nodiscard]] NativePredicate compile_predicate(const Expr& expr, std::span<const ColumnBinding> input,
                                                const engine::Collation& collation = engine::c_collation());

}  // namespace pgstream::sql
