// Lowering: turns a LogicalPlan into an engine Dataflow that maintains the
// query's result incrementally.
//
// Contract:
// - lower() adds nodes to `dataflow` (which may already hold others: stream
//   tables over the same sources each get their own nodes, arrangements are
//   shared) and returns the node whose collection is the query's result, its
//   columns in the plan's output order, marked as an output.
// - Every source relation the plan scans gets one engine source node; the
//   caller feeds it the relation's changes as rows of exactly `columns` (in
//   that order, typed by parse_datum from the column's type OID).
// - A CTE referenced twice is lowered once (one node, two readers).
// - Expressions are compiled by the native evaluator; a construct lowering
//   cannot (yet) maintain throws Error{Unsupported} naming it with its
//   line:column in `plan.original_query` and a hint, before any node is
//   added for it. Text ordering uses `collation` for the database default,
//   bytewise for "C"/"POSIX", and anything else is rejected.
// - The dataflow must outlive nothing: compiled expressions are owned by the
//   operators; `collation` must outlive the dataflow.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/engine/datum.hpp"
#include "pgstream/sql/logical_plan.hpp"

namespace pgstream::sql {

class ServerEvaluation;

struct LoweredSource {
  std::shared_ptr<const SourceRelation> relation;
  engine::NodeId node = 0;
  std::vector<int> columns;  // indexes into relation->columns: the datums of each row, in order
};

struct LoweredQuery {
  engine::NodeId output = 0;
  std::vector<LoweredSource> sources;
};

// Shared by the stream tables lowered into one Dataflow: a source relation
// read with the same columns is one source node, and an equal subplan (the
// same scan, filter, join, aggregate... over equal inputs, compared by a
// canonical form with columns by position) is computed once, so its
// operators and arrangements serve every stream table that contains it.
// With a context, the caller feeds each of `sources` once (a query's
// LoweredQuery::sources may name sources another query created).
struct LoweringContext {
  std::map<std::string, LoweredSource> sources;  // "oid:columns" -> source
  std::map<std::string, engine::NodeId> shared;  // canonical subplan -> node
  std::size_t reused = 0;                        // subplans found already lowered
};

struct LoweringOptions {
  // The database default collation (null: not reproducible, e.g. ICU; text
  // ordering under it is then rejected).
  const engine::Collation* collation = &engine::c_collation();
  // Evaluates what the native evaluator cannot, by the server in batches
  // (null: such expressions are rejected). Must outlive the dataflow.
  ServerEvaluation* server = nullptr;
  // Equal subplans and sources shared with other stream tables (null: none).
  LoweringContext* context = nullptr;
};

[[nodiscard]] LoweredQuery lower(const LogicalPlan& plan, engine::Dataflow& dataflow,
                                 const LoweringOptions& options = {});

}  // namespace pgstream::sql
