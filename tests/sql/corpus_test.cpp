// Every corpus query either compiles, with PostgreSQL's own output column
// names and types, or fails with exactly its documented message.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>

#include "corpus_support.hpp"
#include "pgstream/sql/compiler.hpp"
#include "pgstream/sql/explain.hpp"
#include "support/pg_cluster.hpp"

namespace {

using pgstream::testing::CorpusQuery;

void check_compiles(pgstream::PgConnection& connection, const CorpusQuery& query) {
  std::vector<pgstream::sql::DescribedColumn> described;
  pgstream::sql::LogicalPlan plan;
  try {
    described = pgstream::sql::describe_query(connection, query.sql);
    plan = pgstream::sql::compile_query(connection, query.sql);
  } catch (const pgstream::Error& error) {
    FAIL_CHECK(error.describe());
    return;
  }
  REQUIRE(plan.column_names.size() == described.size());
  for (std::size_t i = 0; i < described.size(); ++i) {
    CHECK(plan.column_names[i] == described[i].name);
    CHECK(plan.column_types[i].oid == described[i].type.oid);
    CHECK(plan.column_types[i].typmod == described[i].type.typmod);
    CHECK(plan.root->output[i].type.oid == described[i].type.oid);
  }
  CHECK_FALSE(pgstream::sql::explain(plan).empty());
  // The text with views expanded means the same to the server.
  INFO("defining query: " << plan.defining_query);
  CHECK(plan.views.empty() == (plan.defining_query == query.sql));
  const auto expanded = pgstream::sql::describe_query(connection, plan.defining_query);
  REQUIRE(expanded.size() == described.size());
  for (std::size_t i = 0; i < described.size(); ++i) {
    CHECK(expanded[i].name == described[i].name);
    CHECK(expanded[i].type.oid == described[i].type.oid);
    CHECK(expanded[i].type.typmod == described[i].type.typmod);
  }
}

void check_rejected(pgstream::PgConnection& connection, const CorpusQuery& query) {
  try {
    (void)pgstream::sql::compile_query(connection, query.sql);
    FAIL_CHECK("compiled, but the corpus expects: " << query.expected_error);
  } catch (const pgstream::Error& error) {
    CHECK(error.kind() == pgstream::ErrorKind::Unsupported);
    CHECK(error.message() == query.expected_error);
    CHECK_FALSE(error.hint().empty());
  }
}

}  // namespace

TEST_CASE_METHOD(pgstream::testing::PgDatabase,
                 "every corpus query compiles with the server's output types or is rejected as documented",
                 "[pg][corpus]") {
  exec(pgstream::testing::read_text(pgstream::testing::sql_test_dir() / "setup.sql"));
  exec("CREATE TEMPORARY TABLE session_notes (id int, body text)");
  const auto corpus = pgstream::testing::load_corpus();
  REQUIRE(corpus.size() >= 10);
  std::size_t rejected = 0;
  const auto start = std::chrono::steady_clock::now();
  for (const CorpusQuery& query : corpus) {
    INFO(query.file << ":\n" << query.sql);
    if (query.expected_error.empty()) {
      check_compiles(connection(), query);
    } else {
      ++rejected;
      check_rejected(connection(), query);
    }
    CHECK(PQtransactionStatus(connection().get()) == PQTRANS_IDLE);
  }
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  WARN(corpus.size() << " corpus queries (" << rejected << " rejected as documented) in " << elapsed << " s");
}

// Hidden: prints every corpus query's plan (test_sql "[explain]").
TEST_CASE_METHOD(pgstream::testing::PgDatabase, "print the plan of every corpus query", "[.][explain]") {
  exec(pgstream::testing::read_text(pgstream::testing::sql_test_dir() / "setup.sql"));
  exec("CREATE TEMPORARY TABLE session_notes (id int, body text)");
  for (const CorpusQuery& query : pgstream::testing::load_corpus()) {
    std::cout << "=== " << query.file << "\n" << query.sql << "\n";
    try {
      std::cout << pgstream::sql::explain(pgstream::sql::compile_query(connection(), query.sql));
    } catch (const pgstream::Error& error) {
      std::cout << "ERROR: " << error.describe() << "\n";
    }
  }
}
