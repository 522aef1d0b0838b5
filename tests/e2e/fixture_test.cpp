// The e2e fixture itself: check_equal must be able to fail.
#include <catch2/catch.hpp>

#include "e2e/daemon_process.hpp"
#include "support/pg_cluster.hpp"

using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

TEST_CASE_METHOD(PgDatabase,
                 "e2e fixture: diff_against_query sees multiplicities, NULLs and internal columns",
                 "[e2e][fixture]") {
  exec(R"sql(
    CREATE TABLE src (k int, v text);
    INSERT INTO src VALUES (1, 'a'), (1, 'a'), (2, NULL);
    CREATE TABLE target (k int, v text, __pgs_row_id bigint);
    INSERT INTO target VALUES (1, 'a', 10), (1, 'a', 11), (2, NULL, 12);
  )sql");
  CHECK(diff_against_query(connection(), "target", "SELECT k, v FROM src") == "");
  exec("DELETE FROM target WHERE __pgs_row_id = 11");  // one of two duplicates
  const std::string missing = diff_against_query(connection(), "target", "SELECT k, v FROM src");
  CHECK(missing.find("0 row(s) only in the target, 1 row(s) only in the query result") != std::string::npos);
  CHECK(missing.find("only in query : (1, a)") != std::string::npos);
  exec("INSERT INTO target VALUES (1, 'a', 11), (2, NULL, 13)");
  const std::string extra = diff_against_query(connection(), "target", "SELECT k, v FROM src");
  CHECK(extra.find("only in target: (2, NULL)") != std::string::npos);
}
