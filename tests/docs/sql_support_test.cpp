// docs/SQL_SUPPORT.md against the daemon: every row of its matrix names an
// example query and the mode the doc promises for it; the test builds a
// stream table from the example exactly as the daemon does (StreamTable::
// build: compile, lower, target columns) and checks the promise.
//
// The doc's convention: a table row with four cells
//   | construct | `example query` | DIFFERENTIAL or FULL or rejected | `message` |
// DIFFERENTIAL: the table builds with refresh_mode DIFFERENTIAL.
// FULL: DIFFERENTIAL fails and the message cell (a code span) is part of the
//   error's message; refresh_mode FULL builds and the query runs as the
//   daemon's FULL refresh runs it: COPY (query) TO STDOUT in a read-only
//   REPEATABLE READ transaction.
// rejected: both fail; the message cell is part of one of the two messages.
// The schema is tests/sql/setup.sql, the query corpus's, plus `readings` and
// a stream table `region_counts` (in a migrated catalog).
#include <catch2/catch.hpp>

#include <chrono>
#include <memory>

#include "doc_table.hpp"
#include "pgstream/catalog/migrations.hpp"
#include "pgstream/common/error.hpp"
#include "pgstream/daemon/stream_table.hpp"
#include "pgstream/sql/collation.hpp"
#include "support/pg_cluster.hpp"

namespace {

using pgstream::Error;
using pgstream::PgConnection;
using pgstream::daemon::BuildContext;
using pgstream::daemon::RefreshMode;
using pgstream::daemon::StreamTable;
using pgstream::daemon::StreamTableDefinition;

struct MatrixRow {
  int line = 0;
  std::string construct;
  std::string query;
  std::string mode;
  std::string message;
};

std::vector<MatrixRow> matrix_rows() {
  const auto text =
      pgstream::testing::read_file_text(pgstream::testing::source_dir() / "docs/SQL_SUPPORT.md");
  std::vector<MatrixRow> rows;
  for (const auto& row : pgstream::testing::table_rows(text)) {
    if (row.cells.size() != 4 || row.cells[2] == "mode") continue;  // a matrix row, not its header
    const std::string& mode = row.cells[2];
    rows.push_back({.line = row.line,
                    .construct = row.cells[0],
                    .query = pgstream::testing::code_span(row.cells[1]),
                    .mode = mode,
                    .message = pgstream::testing::code_span(row.cells[3])});
  }
  return rows;
}

void leave_idle(PgConnection& connection) {
  if (PQtransactionStatus(connection.get()) != PQTRANS_IDLE) connection.exec("ROLLBACK");
}

// What the daemon's FULL refresh does with the query (SnapshotReader).
void run_as_full_refresh(PgConnection& connection, const std::string& query) {
  connection.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  const std::string copy = "COPY (" + query + "\n) TO STDOUT";
  pgstream::PgResult started(PQexec(connection.get(), copy.c_str()));
  if (PQresultStatus(started.get()) != PGRES_COPY_OUT) {
    throw pgstream::result_error(connection.get(), started.get(), "running the query");
  }
  for (;;) {
    char* line = nullptr;
    if (PQgetCopyData(connection.get(), &line, 0) < 0) break;
    PQfreemem(line);
  }
  pgstream::PgResult done(PQgetResult(connection.get()));
  if (!pgstream::result_ok(done.get()))
    throw pgstream::result_error(connection.get(), done.get(), "running the query");
  while (pgstream::PgResult extra{PQgetResult(connection.get())}) {
  }
  connection.exec("ROLLBACK");
}

struct Outcome {
  std::string mode;
  std::string differential_error;
  std::string full_error;
};

Outcome classify(PgConnection& connection, const BuildContext& context, const std::string& query) {
  Outcome outcome;
  StreamTableDefinition definition;
  definition.name = {"public", "matrix_example"};
  definition.query = query;
  try {
    StreamTable table(definition);
    table.build(connection, context);
    outcome.mode = "DIFFERENTIAL";
    return outcome;
  } catch (const Error& error) {
    outcome.differential_error = error.message();
  }
  leave_idle(connection);
  definition.refresh_mode = RefreshMode::Full;
  try {
    StreamTable table(definition);
    table.build(connection, context);
    run_as_full_refresh(connection, query);
    outcome.mode = "FULL";
  } catch (const Error& error) {
    outcome.full_error = error.message();
    outcome.mode = "rejected";
  }
  leave_idle(connection);
  return outcome;
}

}  // namespace

TEST_CASE_METHOD(pgstream::testing::PgDatabase,
                 "every example of docs/SQL_SUPPORT.md has the mode the doc states", "[docs][sql][pg]") {
  exec(pgstream::testing::read_file_text(pgstream::testing::source_dir() / "tests/sql/setup.sql"));
  exec(
      "CREATE TABLE readings (sensor int, day date, value numeric, PRIMARY KEY (sensor, day)) "
      "PARTITION BY RANGE (day)");
  exec("CREATE TABLE readings_2024 PARTITION OF readings FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')");
  // A stream table to read from: a catalog with one registered target.
  (void)pgstream::catalog::migrate(connection(), "pgstream");
  exec("CREATE TABLE region_counts (region text PRIMARY KEY, n bigint)");
  exec(
      "INSERT INTO pgstream.pgs_stream_tables (pgs_relid, pgs_schema, pgs_name, defining_query, "
      "original_query, "
      "source) VALUES ('region_counts'::regclass, 'public', 'region_counts', 'SELECT region, count(*) AS n "
      "FROM "
      "customers GROUP BY region', 'SELECT region, count(*) AS n FROM customers GROUP BY region', 'sql')");
  const auto rows = matrix_rows();
  REQUIRE(rows.size() >= 80);
  const auto collation = pgstream::sql::database_collation(connection());
  PgConnection evaluation(conninfo());
  BuildContext context;
  context.collation = collation.get();
  context.evaluation = &evaluation;
  context.types =
      std::make_shared<pgstream::replication::TypeMap>(pgstream::replication::TypeMap::load(connection()));
  const auto start = std::chrono::steady_clock::now();
  for (const MatrixRow& row : rows) {
    INFO("docs/SQL_SUPPORT.md:" << row.line << ": " << row.construct << "\n  " << row.query);
    REQUIRE_FALSE(row.query.empty());
    REQUIRE((row.mode == "DIFFERENTIAL" || row.mode == "FULL" || row.mode == "rejected"));
    const Outcome outcome = classify(connection(), context, row.query);
    INFO("DIFFERENTIAL: " << (outcome.differential_error.empty() ? "builds" : outcome.differential_error));
    INFO("FULL: " << (outcome.mode == "rejected" ? outcome.full_error : "runs"));
    CHECK(outcome.mode == row.mode);
    if (row.mode == "DIFFERENTIAL") {
      CHECK(row.message.empty());
    } else {
      CHECK_FALSE(row.message.empty());
      const bool shown =
          outcome.differential_error.find(row.message) != std::string::npos ||
          (row.mode == "rejected" && outcome.full_error.find(row.message) != std::string::npos);
      CHECK(shown);
    }
  }
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN(rows.size() << " examples of docs/SQL_SUPPORT.md classified in " << elapsed << " s");
}
