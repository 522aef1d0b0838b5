#include <catch2/catch.hpp>

#include "pgstream/common/pg.hpp"
#include "support/pg_cluster.hpp"

using pgstream::Error;
using pgstream::ErrorKind;
using pgstream::PgConnection;
using pgstream::redact_conninfo;

TEST_CASE("redact_conninfo hides passwords in key=value and URI forms", "[common][pg]") {
  const std::string kv = redact_conninfo("host=db port=5432 user=app password=s3cr3t dbname=x");
  CHECK(kv.find("s3cr3t") == std::string::npos);
  CHECK(kv.find("password=********") != std::string::npos);
  CHECK(kv.find("host=db") != std::string::npos);
  const std::string uri = redact_conninfo("postgresql://app:s3cr3t@db:5432/x?sslmode=disable");
  CHECK(uri.find("s3cr3t") == std::string::npos);
  CHECK(uri.find("user=app") != std::string::npos);
  CHECK(redact_conninfo("host='unterminated password=s3cr3t").find("s3cr3t") == std::string::npos);
}

TEST_CASE_METHOD(pgstream::testing::PgDatabase, "server errors carry SQLSTATE, detail and hint",
                 "[common][pg]") {
  PgConnection conn(conninfo());
  exec("CREATE TABLE parent (id int PRIMARY KEY); CREATE TABLE child (p int REFERENCES parent)");
  try {
    conn.exec("INSERT INTO child VALUES (7)");
    FAIL("expected a foreign key violation");
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::Database);
    CHECK(error.sqlstate() == "23503");
    CHECK(error.detail().find("(p)=(7)") != std::string::npos);
    CHECK(error.message().find("INSERT INTO child") != std::string::npos);
  }
  CHECK(conn.quote_identifier("we\"ird name") == "\"we\"\"ird name\"");
  CHECK(conn.quote_literal("it's") == "'it''s'");
  CHECK(conn.server_version() >= 150000);
}

TEST_CASE("a failed connection is a Connection error whose message holds no password", "[common][pg]") {
  const auto& cluster = pgstream::testing::PgCluster::shared();
  const std::string dsn = cluster.conninfo("no_such_database") + " password=hunter2";
  try {
    PgConnection conn(dsn);
    FAIL("expected the connection to fail");
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::Connection);
    CHECK(error.describe().find("hunter2") == std::string::npos);
    CHECK(error.describe().find("no_such_database") != std::string::npos);
  }
}
