// Faults stay local: a dropped or retyped source puts only its stream table
// into ERROR; adding a column disturbs nothing; the others keep running.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "e2e/daemon_process.hpp"
#include "support/pg_cluster.hpp"

using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

namespace {

// Polls until the stream table's status is `status`; returns "status|last_error|needs_reinit".
std::string wait_status(PgConnection& conn, DaemonProcess& daemon, const std::string& name,
                        const std::string& status) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string seen;
  while (std::chrono::steady_clock::now() < deadline) {
    seen = conn.query_value(
        "SELECT coalesce(status, '') || '|' || coalesce(last_error, '') || '|' || needs_reinit::text "
        "FROM pgstream.pgs_stream_tables WHERE pgs_name = " +
        conn.quote_literal(name));
    if (seen.rfind(status + "|", 0) == 0) return seen;
    REQUIRE(daemon.running());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a catalog condition
  }
  FAIL("stream table " << name << " did not reach " << status << " (last: " << seen << "); log:\n"
                       << daemon.tail());
  return seen;
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "e2e: a dropped or retyped source fails only its own stream table",
                 "[e2e][faults]") {
  exec(R"sql(
    CREATE TABLE src_dropme (id int PRIMARY KEY, v int);
    CREATE TABLE src_retype (id int PRIMARY KEY, v int, w text);
    CREATE TABLE src_addcol (id int PRIMARY KEY, v int);
    CREATE TABLE src_ok (id int PRIMARY KEY, v int);
    INSERT INTO src_dropme SELECT g, g FROM generate_series(1, 20) g;
    INSERT INTO src_retype SELECT g, g, 'w' || g FROM generate_series(1, 20) g;
    INSERT INTO src_addcol SELECT g, g FROM generate_series(1, 20) g;
    INSERT INTO src_ok SELECT g, g FROM generate_series(1, 40) g;
  )sql");
  const StreamTableSpec t_dropme{"public.t_dropme", "SELECT id, v FROM src_dropme"};
  const StreamTableSpec t_retype{"public.t_retype", "SELECT id, v + 1 AS v1 FROM src_retype"};
  const StreamTableSpec t_addcol{"public.t_addcol", "SELECT id, v FROM src_addcol WHERE v % 2 = 0"};
  const StreamTableSpec t_ok{"public.t_ok",
                             "SELECT v % 3 AS k, count(*) AS n, sum(v) AS s FROM src_ok GROUP BY 1"};
  DaemonProcess daemon(*this, {t_dropme, t_retype, t_addcol, t_ok});
  daemon.start();
  daemon.wait_until_active(4);
  PgConnection check(conninfo());

  exec("DROP TABLE src_dropme");
  exec("INSERT INTO src_ok VALUES (41, 41)");
  const std::string dropped = wait_status(check, daemon, "t_dropme", "ERROR");
  INFO("t_dropme: " << dropped);
  CHECK(dropped.find("src_dropme") != std::string::npos);
  CHECK(dropped.substr(dropped.size() - 4) == "true");  // needs_reinit

  exec("ALTER TABLE src_retype ALTER COLUMN v TYPE bigint");
  exec("INSERT INTO src_retype VALUES (21, 21, 'x'); UPDATE src_retype SET v = v + 1 WHERE id = 1");
  const std::string retyped = wait_status(check, daemon, "t_retype", "ERROR");
  INFO("t_retype: " << retyped);
  CHECK(retyped.find("src_retype") != std::string::npos);

  exec("ALTER TABLE src_addcol ADD COLUMN extra text DEFAULT 'x'");
  exec(R"sql(
    INSERT INTO src_addcol VALUES (21, 22, 'y'), (22, 24, NULL);
    UPDATE src_addcol SET v = v + 1, extra = 'z' WHERE id % 3 = 0;
    DELETE FROM src_addcol WHERE id = 4;
    INSERT INTO src_ok SELECT g, g * 2 FROM generate_series(42, 60) g;
    DELETE FROM src_ok WHERE id % 5 = 0;
  )sql");
  sync_all(conninfo(), 2, std::chrono::seconds(60), &daemon);
  CHECK(check.query_value("SELECT string_agg(pgs_name || ':' || status, ',' ORDER BY pgs_name) FROM "
                          "pgstream.pgs_stream_tables") ==
        "t_addcol:ACTIVE,t_dropme:ERROR,t_ok:ACTIVE,t_retype:ERROR");
  check_equal(check, t_addcol.name, t_addcol.query);
  check_equal(check, t_ok.name, t_ok.query);
  REQUIRE(daemon.running());
  INFO("log:\n" << daemon.tail());
  CHECK(daemon.sigterm_and_wait() == 0);
}
