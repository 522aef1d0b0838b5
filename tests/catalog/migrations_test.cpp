#include <catch2/catch.hpp>

#include "pgstream/catalog/migrations.hpp"
#include "pgstream/common/error.hpp"
#include "support/pg_cluster.hpp"

using pgstream::Error;
using pgstream::ErrorKind;
using pgstream::PgConnection;
using pgstream::PgResult;
using pgstream::catalog::catalog_version;
using pgstream::catalog::kCatalogVersion;
using pgstream::catalog::migrate;
using pgstream::testing::PgDatabase;

namespace {

void add_stream_table(PgDatabase& db, const std::string& schema, const std::string& name,
                      const std::string& status, const std::string& frontier) {
  db.exec(
      "INSERT INTO pgstream.pgs_stream_tables (pgs_schema, pgs_name, defining_query, original_query, status, "
      "frontier_lsn, data_timestamp, source) VALUES ('" +
      schema + "', '" + name + "', 'SELECT 1', 'SELECT 1', '" + status + "', " + frontier +
      ", now() - interval '5 minutes', 'yaml')");
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "migrate creates the catalog once and is idempotent", "[catalog][pg]") {
  PgConnection& conn = connection();
  CHECK(catalog_version(conn, "pgstream") == 0);
  CHECK(migrate(conn, "pgstream") == 0);
  CHECK(catalog_version(conn, "pgstream") == kCatalogVersion);
  CHECK(migrate(conn, "pgstream") == kCatalogVersion);
  CHECK(query_value("SELECT count(*) FROM pgstream.schema_version") == std::to_string(kCatalogVersion));
  for (const char* relation : {"pgs_stream_tables", "pgs_dependencies", "pgs_refresh_history",
                               "stream_tables_info", "pg_stat_stream_tables"}) {
    CAPTURE(relation);
    CHECK(query_value(std::string("SELECT to_regclass('pgstream.") + relation + "') IS NOT NULL") == "t");
  }
  for (const char* function : {"wait_for(pg_lsn,interval)", "pgs_status()", "st_refresh_stats()",
                               "get_refresh_history(text,integer)", "get_staleness(text)", "slot_health()"}) {
    CAPTURE(function);
    CHECK(query_value(std::string("SELECT to_regprocedure('pgstream.") + function + "') IS NOT NULL") == "t");
  }
}

TEST_CASE_METHOD(PgDatabase, "any schema name is quoted, and a newer catalog is refused", "[catalog][pg]") {
  PgConnection& conn = connection();
  const std::string odd = "My \"Catalog\"; DROP TABLE x";
  CHECK(migrate(conn, odd) == 0);
  CHECK(catalog_version(conn, odd) == kCatalogVersion);
  CHECK(query_value("SELECT count(*) FROM pg_namespace WHERE nspname = " + conn.quote_literal(odd)) == "1");
  exec("INSERT INTO " + conn.quote_identifier(odd) + ".schema_version VALUES (" +
       std::to_string(kCatalogVersion + 1) + ")");
  try {
    (void)migrate(conn, odd);
    FAIL("a newer catalog was accepted");
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::Config);
    CHECK(error.message().find("newer than this pgstream understands") != std::string::npos);
  }
  CHECK(query_value("SELECT 1") == "1");  // the connection is usable after the rollback
}

TEST_CASE_METHOD(PgDatabase, "wait_for returns when every ACTIVE stream table reached the LSN",
                 "[catalog][pg]") {
  (void)migrate(connection(), "pgstream");
  CHECK(query_value("SELECT pgstream.wait_for(pg_current_wal_lsn(), '1s')") == "t");  // nothing active

  add_stream_table(*this, "public", "behind", "ACTIVE", "'0/1'");
  add_stream_table(*this, "public", "suspended", "SUSPENDED", "NULL");  // not waited for
  CHECK(query_value("SELECT pgstream.wait_for(pg_current_wal_lsn(), '20ms')") == "f");

  // A waiter sees the daemon's commit of a newer frontier while it waits.
  PgConnection waiter(conninfo());
  const std::string target = query_value("SELECT pg_current_wal_lsn()");
  REQUIRE(PQsendQuery(waiter.get(), ("SELECT pgstream.wait_for('" + target + "', '60s')").c_str()) == 1);
  exec("UPDATE pgstream.pgs_stream_tables SET frontier_lsn = '" + target + "' WHERE pgs_name = 'behind'");
  PgResult result(PQgetResult(waiter.get()));
  REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
  CHECK(std::string(PQgetvalue(result.get(), 0, 0)) == "t");
  while (PgResult rest{PQgetResult(waiter.get())}) {
  }

  exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
  CHECK_THROWS_WITH(query_value("SELECT pgstream.wait_for('0/1')"),
                    Catch::Contains("wait_for cannot see progress in a repeatable read transaction"));
  exec("ROLLBACK");
}

TEST_CASE_METHOD(PgDatabase, "status functions resolve names as PostgreSQL does", "[catalog][pg]") {
  (void)migrate(connection(), "pgstream");
  add_stream_table(*this, "analytics", "Totals", "ACTIVE", "'0/10'");
  add_stream_table(*this, "public", "plain", "ERROR", "NULL");
  CHECK(query_value("SELECT get_staleness >= interval '5 minutes' FROM "
                    "pgstream.get_staleness('analytics.\"Totals\"')") == "t");
  CHECK(query_value("SELECT pgstream.get_staleness('PLAIN') IS NOT NULL") == "t");
  CHECK_THROWS_WITH(query_value("SELECT pgstream.get_staleness('analytics.totals')"),
                    Catch::Contains("stream table \"analytics.totals\" does not exist"));
  CHECK(query_value("SELECT string_agg(name || ':' || status, ',') FROM pgstream.pgs_status()") ==
        "analytics.\"Totals\":ACTIVE,public.plain:ERROR");
  CHECK(query_value("SELECT count(*) FROM pgstream.get_refresh_history('plain')") == "0");
  CHECK(query_value("SELECT count(*) FROM pgstream.st_refresh_stats()") == "2");
  CHECK(query_value("SELECT count(*) FROM pgstream.stream_tables_info") == "2");
}
