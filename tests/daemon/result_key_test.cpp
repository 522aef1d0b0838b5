// result_key(): which output columns of a compiled query are a unique key of
// its result, so that the target is keyed (updated in place) rather than
// keyless.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "pgstream/daemon/stream_table.hpp"
#include "pgstream/sql/compiler.hpp"
#include "support/pg_cluster.hpp"

using pgstream::testing::PgDatabase;

namespace {

std::vector<int> key_of(pgstream::PgConnection& connection, const std::string& query) {
  return pgstream::daemon::result_key(pgstream::sql::compile_query(connection, query));
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "result_key finds GROUP BY, DISTINCT and primary keys", "[daemon][pg]") {
  exec(
      "CREATE TABLE o (id int PRIMARY KEY, c int, amount numeric); "
      "CREATE TABLE k (a int, b int, PRIMARY KEY (a, b)); CREATE TABLE n (x int, y int)");
  auto& conn = connection();
  CHECK(key_of(conn, "SELECT c, count(*) AS n FROM o GROUP BY c") == std::vector<int>{0});
  CHECK(key_of(conn, "SELECT count(*) AS n, c FROM o GROUP BY c") == std::vector<int>{1});
  CHECK(key_of(conn, "SELECT c, sum(amount) AS s FROM o GROUP BY c HAVING sum(amount) > 1") ==
        std::vector<int>{0});
  CHECK(key_of(conn, "SELECT DISTINCT c, amount FROM o") == std::vector<int>{0, 1});
  CHECK(key_of(conn, "SELECT id, amount FROM o WHERE amount > 1") == std::vector<int>{0});
  CHECK(key_of(conn, "SELECT b, a FROM k") == std::vector<int>{1, 0});
  // No key: the key column is not in the output, a join, grouping sets, a keyless table.
  CHECK(key_of(conn, "SELECT sum(amount) AS s FROM o GROUP BY c").empty());
  CHECK(key_of(conn, "SELECT amount FROM o").empty());
  CHECK(key_of(conn, "SELECT o.id, k.b FROM o JOIN k ON k.a = o.c").empty());
  CHECK(key_of(conn, "SELECT c, count(*) AS n FROM o GROUP BY ROLLUP (c)").empty());
  CHECK(key_of(conn, "SELECT x, y FROM n").empty());
  CHECK(key_of(conn, "SELECT c + 1 AS c1, count(*) AS n FROM o GROUP BY c").empty());
}
