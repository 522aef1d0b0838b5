// Logical rewrites of a bound plan. Both keep the plan's result (as a
// multiset) unchanged; both respect shared nodes (a CTE referenced twice is
// rewritten once and stays shared).
//
// - push_down_predicates: moves each conjunct of a Filter as close to the
//   scans as its columns allow: into the sides of inner joins (or into the
//   join condition when it needs both), into the preserved side of outer,
//   semi and anti joins, below projections of simple expressions, below
//   DISTINCT and below GROUP BY when it only reads group keys. First, a
//   conjunct that rejects the NULLs an outer join adds reduces that join
//   (LEFT/RIGHT to INNER, FULL to LEFT/RIGHT/INNER), as PostgreSQL does.
// - prune_columns: each Scan keeps only the columns some expression (or the
//   query's output) reads; collect_columns_used() then lists them per source.
#pragma once

#include "pgstream/sql/logical_plan.hpp"

namespace pgstream::sql {

void push_down_predicates(LogicalPlan& plan);
void prune_columns(LogicalPlan& plan);
// Fills plan.columns_used from the Scans (subplans included).
void collect_columns_used(LogicalPlan& plan);

}  // namespace pgstream::sql
