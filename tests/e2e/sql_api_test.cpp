// The SQL API and per-table errors end to end: a query error puts only its
// table in ERROR (with last_error and consecutive_errors, in pgs_status()),
// alter_stream_table(status => 'ACTIVE') resumes it, refresh_stream_table
// recomputes, alter with a new query reshapes the target, an unsupported
// query is refused with its SQLSTATE, and a scheduled table applies on its
// beat.
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "e2e/daemon_process.hpp"
#include "support/pg_cluster.hpp"

using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

TEST_CASE_METHOD(PgDatabase,
                 "e2e: a query error fails only its table; ALTER ... ACTIVE and refresh resume it",
                 "[e2e][sql-api][errors]") {
  exec(
      "CREATE TABLE nums (id int PRIMARY KEY, v int); INSERT INTO nums SELECT g, 1 + g % 5 FROM "
      "generate_series(1, 100) g");
  const std::vector<StreamTableSpec> tables{{"public.t_div", "SELECT id, 100 / v AS r FROM nums"},
                                            {"public.t_sum", "SELECT v, count(*) AS n FROM nums GROUP BY v"}};
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());
  PgConnection check(conninfo());

  exec("INSERT INTO nums VALUES (1000, 0)");  // 100 / 0 in t_div's dataflow
  wait_status(check, "t_div", "ERROR", daemon);
  CHECK(check.query_value("SELECT last_error FROM pgstream.pgs_stream_tables WHERE pgs_name = 't_div'")
            .find("division by zero") != std::string::npos);
  CHECK(check.query_value(
            "SELECT consecutive_errors FROM pgstream.pgs_status() WHERE name = 'public.t_div'") == "1");
  // The other table goes on.
  exec("UPDATE nums SET v = v + 1 WHERE id % 3 = 0");
  (void)sync_all(conninfo(), 1, std::chrono::seconds(60), &daemon);
  CHECK(status_of(check, "t_sum") == "ACTIVE");
  CHECK(diff_against_query(check, "public.t_sum", tables[1].query).empty());

  // Fixed at the source, resumed by the SQL API: reloaded from a snapshot.
  exec("DELETE FROM nums WHERE v = 0");
  check.exec("SELECT pgstream.alter_stream_table('public.t_div', status => 'ACTIVE')");
  CHECK(status_of(check, "t_div") == "ACTIVE");
  CHECK(diff_against_query(check, "public.t_div", tables[0].query).empty());
  CHECK(check.query_value(
            "SELECT consecutive_errors FROM pgstream.pgs_stream_tables WHERE pgs_name = 't_div'") == "0");

  // refresh_stream_table: recomputes and reconciles; a REINITIALIZE history row.
  exec("UPDATE nums SET v = 7 WHERE id < 10");
  check.exec("SELECT pgstream.refresh_stream_table('public.t_div')");
  (void)sync_all(conninfo(), 2, std::chrono::seconds(60), &daemon);
  CHECK(diff_against_query(check, "public.t_div", tables[0].query).empty());
  CHECK(check.query_value(
            "SELECT count(*) > 1 FROM pgstream.pgs_refresh_history h JOIN pgstream.pgs_stream_tables "
            "t USING (pgs_id) WHERE t.pgs_name = 't_div' AND h.action = 'REINITIALIZE'") == "t");
  // The refresh started from an empty dataflow: a deletion now removes the
  // rows (a dataflow loaded twice would hold each row twice and keep them).
  exec("DELETE FROM nums WHERE id < 20");
  check.exec("SELECT pgstream.refresh_stream_table('public.t_sum')");
  exec("UPDATE nums SET v = 3 WHERE id BETWEEN 20 AND 40");
  (void)sync_all(conninfo(), 2, std::chrono::seconds(60), &daemon);
  CHECK(diff_against_query(check, "public.t_div", tables[0].query).empty());
  CHECK(diff_against_query(check, "public.t_sum", tables[1].query).empty());
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase, "e2e: the SQL API creates, alters and refuses", "[e2e][sql-api]") {
  exec(
      "CREATE TABLE items (id int PRIMARY KEY, grp int, price numeric(10,2)); INSERT INTO items SELECT g, g "
      "% 4, "
      "g * 1.5 FROM generate_series(1, 200) g");
  DaemonProcess daemon(*this, {});
  daemon.start();
  PgConnection check(conninfo());
  // The API needs the daemon's catalog and its stream (requests travel in it).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (check.query_value("SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name = " +
                           check.quote_literal(daemon.slot())) != "1") {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the slot's state
  }
  const std::string first = "SELECT grp, sum(price) AS total FROM items GROUP BY grp";
  check.exec("SELECT pgstream.create_stream_table('public.by_grp', " + check.quote_literal(first) + ")");
  CHECK(diff_against_query(check, "public.by_grp", first).empty());

  // A new query with other columns: the target is rebuilt.
  const std::string second =
      "SELECT grp, count(*) AS n, max(price) AS top FROM items WHERE id > 10 GROUP BY grp";
  check.exec("SELECT pgstream.alter_stream_table('public.by_grp', query => " + check.quote_literal(second) +
             ")");
  CHECK(diff_against_query(check, "public.by_grp", second).empty());
  exec("UPDATE items SET grp = 9 WHERE id % 7 = 0");
  (void)sync_all(conninfo(), 1, std::chrono::seconds(60), &daemon);
  CHECK(diff_against_query(check, "public.by_grp", second).empty());

  // Unsupported: refused with the daemon's SQLSTATE, nothing created.
  try {
    check.exec("SELECT pgstream.create_stream_table('public.bad', 'SELECT id, random() AS r FROM items')");
    FAIL("create_stream_table accepted a volatile function");
  } catch (const pgstream::Error& error) {
    CHECK(error.sqlstate() == "0A000");
    CHECK(error.message().find("random") != std::string::npos);
  }
  CHECK(check.query_value("SELECT to_regclass('public.bad') IS NULL") == "t");
  CHECK(status_of(check, "bad") == "missing");

  check.exec("SELECT pgstream.drop_stream_table('public.by_grp')");
  CHECK(check.query_value("SELECT to_regclass('public.by_grp') IS NULL") == "t");
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase, "e2e: a scheduled table applies on its beat", "[e2e][schedule]") {
  exec(
      "CREATE TABLE ticks (id int PRIMARY KEY, k int); INSERT INTO ticks SELECT g, g % 3 FROM "
      "generate_series(1, "
      "30) g");
  const std::vector<StreamTableSpec> tables{
      {"public.t_beat", "SELECT k, count(*) AS n FROM ticks GROUP BY k", "DIFFERENTIAL", "2s"}};
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());
  PgConnection check(conninfo());
  CHECK(diff_against_query(check, "public.t_beat", tables[0].query).empty());
  exec("INSERT INTO ticks SELECT g, 5 FROM generate_series(100, 140) g");
  // Not applied before its beat...
  CHECK(check.query_value("SELECT count(*) FROM t_beat WHERE k = 5") == "0");
  // ...and wait_for() waits for the beat.
  CHECK(check.query_value("SELECT pgstream.wait_for(pg_current_wal_lsn(), '10s')") == "t");
  CHECK(diff_against_query(check, "public.t_beat", tables[0].query).empty());
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase, "e2e: a password in the DSN never reaches the log or status", "[e2e][secrets]") {
  exec("CREATE TABLE s (id int PRIMARY KEY, v int); INSERT INTO s VALUES (1, 1)");
  const std::string secret = "hunter2-Pa55word";
  // The test cluster trusts local connections: the password is sent, never checked.
  DaemonSettings settings;
  settings.log_level = "trace";
  settings.dsn_options = "password=" + secret;
  DaemonProcess daemon(*this, {{"public.t_s", "SELECT id, v FROM s"}}, settings);
  daemon.start();
  daemon.wait_until_active(1);
  exec("INSERT INTO s VALUES (2, 2)");
  (void)sync_all(conninfo(), 1, std::chrono::seconds(60), &daemon);
  const CommandResult status =
      run_pgstream({"status", "--config", daemon.config_path().string(), "--json"}, daemon.dir());
  CHECK(status.exit_code == 0);
  CHECK(daemon.sigterm_and_wait() == 0);
  CHECK(daemon.log().find(secret) == std::string::npos);
  CHECK(status.out.find(secret) == std::string::npos);
  CHECK(status.err.find(secret) == std::string::npos);
  CHECK(daemon.log().find("********") != std::string::npos);  // the DSN is shown, redacted
}
