// The e2e tests' shared schema, stream table definitions and seeded random
// writers.
//
// Schema: customers, products, orders (primary keys; NULLs in most columns),
// events (keyless, REPLICA IDENTITY FULL, exact duplicates), edges (a small
// graph with cycles and diamonds). Ids are drawn from small ranges so that
// transactions collide on keys, join partners and groups.
#pragma once

#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "e2e/daemon_process.hpp"
#include "pgstream/common/pg.hpp"

namespace pgstream::e2e {

// CREATE TABLE ... plus a deterministic initial load.
[[nodiscard]] std::string workload_schema_sql();

// One stream table per query class of the brief (filter/project, group-by,
// 3-way join, LEFT JOIN, DISTINCT, UNION ALL, EXCEPT, top-k, window,
// WITH RECURSIVE, EXISTS, NOT IN, string_agg ORDER BY, keyless projection).
[[nodiscard]] std::vector<StreamTableSpec> query_class_tables();

// The subset used by the crash tests (cheaper to reload ten times).
[[nodiscard]] std::vector<StreamTableSpec> crash_tables();

// One random statement (single-statement transaction when run in autocommit).
[[nodiscard]] std::string random_statement(std::mt19937_64& rng);

// Runs one random transaction (1-4 statements; sometimes a savepoint rolled
// back, sometimes a ROLLBACK of the whole). Returns true if it committed.
// Database errors (unique violations, deadlocks between writers) roll the
// transaction back and return false; connection errors propagate.
bool run_random_transaction(PgConnection& conn, std::mt19937_64& rng);

// Every target of `tables` equal to its query (check_equal each).
void check_all_equal(PgConnection& conn, const std::vector<StreamTableSpec>& tables);

// Per stream table, pgs_refresh_history's frontier_lsn never decreases with
// refresh_id, and no two successful DIFFERENTIAL rows share a frontier.
void check_history_monotonic(PgConnection& conn);

}  // namespace pgstream::e2e
