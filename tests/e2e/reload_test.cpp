// Changing the set of stream tables while the daemon runs: SIGHUP with a new
// YAML, and the SQL API; and wait_for on an idle database.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "e2e/daemon_process.hpp"
#include "support/pg_cluster.hpp"

using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

namespace {

using Clock = std::chrono::steady_clock;

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "e2e: SIGHUP adds and drops stream tables, the SQL API creates and drops one",
                 "[e2e][reload]") {
  exec(R"sql(
    CREATE TABLE a (id int PRIMARY KEY, v int, grp int);
    CREATE TABLE b (id int PRIMARY KEY, name text);
    INSERT INTO a SELECT g, g % 7, g % 3 FROM generate_series(1, 50) g;
    INSERT INTO b SELECT g, 'b' || g FROM generate_series(1, 20) g;
  )sql");
  const StreamTableSpec t_a{"public.t_a", "SELECT id, v FROM a WHERE v > 2"};
  const StreamTableSpec t_drop{"public.t_drop", "SELECT grp, count(*) AS n, sum(v) AS s FROM a GROUP BY grp"};
  const StreamTableSpec t_b{"public.t_b", "SELECT id, upper(name) AS name FROM b"};
  const StreamTableSpec t_late{"public.t_late",
                               "SELECT l.kind, count(*) AS n FROM late_src l GROUP BY l.kind"};
  DaemonProcess daemon(*this, {t_a, t_drop});
  daemon.start();
  daemon.wait_until_active(2);
  PgConnection check(conninfo());
  sync_all(conninfo(), 2, std::chrono::seconds(60), &daemon);

  SECTION("wait_for on an idle database returns true within 2 s") {
    for (int i = 0; i < 3; ++i) {
      const auto started = Clock::now();
      const std::string done = check.query_value("SELECT pgstream.wait_for(pg_current_wal_lsn())");
      const auto elapsed = std::chrono::duration<double>(Clock::now() - started).count();
      INFO("attempt " << i << ": wait_for took " << elapsed << " s");
      CHECK(done == "t");
      CHECK(elapsed < 2.0);
    }
  }

  SECTION("reload and SQL API") {
    // A source that is not in the publication yet.
    exec(R"sql(
      CREATE TABLE late_src (id int PRIMARY KEY, kind text);
      INSERT INTO late_src SELECT g, 'k' || (g % 4) FROM generate_series(1, 30) g;
    )sql");
    daemon.set_tables({t_a, t_b, t_late});
    daemon.sighup();
    {
      const auto deadline = Clock::now() + std::chrono::seconds(60);
      std::string state;
      while (Clock::now() < deadline) {
        state = check.query_value(
            "SELECT format('drop_target=%s drop_row=%s late=%s b=%s', to_regclass('public.t_drop') IS NOT "
            "NULL, "
            "EXISTS (SELECT 1 FROM pgstream.pgs_stream_tables WHERE pgs_name = 't_drop'), "
            "(SELECT status FROM pgstream.pgs_stream_tables WHERE pgs_name = 't_late' AND is_populated), "
            "(SELECT status FROM pgstream.pgs_stream_tables WHERE pgs_name = 't_b' AND is_populated))");
        if (state == "drop_target=f drop_row=f late=ACTIVE b=ACTIVE") break;
        REQUIRE(daemon.running());
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a catalog condition
      }
      INFO("log:\n" << daemon.tail());
      REQUIRE(state == "drop_target=f drop_row=f late=ACTIVE b=ACTIVE");
    }
    check_equal(check, t_late.name, t_late.query);
    check_equal(check, t_b.name, t_b.query);
    exec(R"sql(
      INSERT INTO late_src SELECT g, 'k' || (g % 5) FROM generate_series(31, 60) g;
      UPDATE late_src SET kind = NULL WHERE id % 6 = 0;
      DELETE FROM late_src WHERE id % 9 = 0;
      UPDATE a SET v = v + 3 WHERE id % 4 = 0;
      UPDATE b SET name = name || 'x' WHERE id < 5;
    )sql");
    sync_all(conninfo(), 3, std::chrono::seconds(60), &daemon);
    for (const auto& table : {t_a, t_b, t_late}) check_equal(check, table.name, table.query);

    // The SQL API: populated when the call returns. (Its source is new to
    // the stream; a source already streamed is the case below.)
    exec(
        "CREATE TABLE c (id int PRIMARY KEY, v int, grp int); "
        "INSERT INTO c SELECT g, g % 7, g % 3 FROM generate_series(1, 50) g");
    const std::string sql_query = "SELECT id, v * 2 AS v2, grp FROM c WHERE grp <> 1";
    check.exec("SELECT pgstream.create_stream_table('public.t_sql', " + check.quote_literal(sql_query) + ")");
    CHECK(check.query_value("SELECT to_regclass('public.t_sql') IS NOT NULL") == "t");
    check_equal(check, "public.t_sql", sql_query);
    CHECK(check.query_value(
              "SELECT status || '/' || source FROM pgstream.pgs_stream_tables WHERE pgs_name = 't_sql'") ==
          "ACTIVE/sql");
    exec(
        "UPDATE c SET grp = (grp + 1) % 3 WHERE id % 5 = 0; DELETE FROM c WHERE id = 7; INSERT INTO c VALUES "
        "(99, 9, 0)");
    sync_all(conninfo(), 4, std::chrono::seconds(60), &daemon);
    check_equal(check, "public.t_sql", sql_query);

    // A reload of the same YAML keeps the SQL-created table.
    daemon.sighup();
    {
      const auto deadline = Clock::now() + std::chrono::seconds(30);
      while (count_of(daemon.log(), "SIGHUP: reloading") < 2 && Clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling the log for the reload
      }
      REQUIRE(count_of(daemon.log(), "SIGHUP: reloading") >= 2);
    }
    exec("UPDATE a SET v = v + 1 WHERE id < 10; UPDATE c SET v = v + 1 WHERE id < 10");
    sync_all(conninfo(), 4, std::chrono::seconds(60), &daemon);
    CHECK(check.query_value("SELECT to_regclass('public.t_sql') IS NOT NULL") == "t");
    check_equal(check, "public.t_sql", sql_query);

    // An unsupported query through the SQL API raises the daemon's error.
    CHECK_THROWS(
        check.exec("SELECT pgstream.create_stream_table('public.t_bad', 'SELECT id, random() AS r FROM a')"));
    CHECK(check.query_value("SELECT to_regclass('public.t_bad') IS NULL") == "t");

    check.exec("SELECT pgstream.drop_stream_table('public.t_sql')");
    CHECK(check.query_value("SELECT to_regclass('public.t_sql') IS NULL") == "t");
    CHECK(check.query_value("SELECT count(*) FROM pgstream.pgs_stream_tables WHERE pgs_name = 't_sql'") ==
          "0");

    exec("DELETE FROM a WHERE id < 5");
    sync_all(conninfo(), 3, std::chrono::seconds(60), &daemon);
    for (const auto& table : {t_a, t_b, t_late}) check_equal(check, table.name, table.query);
  }
  INFO("log:\n" << daemon.tail());
  CHECK(daemon.sigterm_and_wait() == 0);
}

// A stream table added while running (SIGHUP or the SQL API) over a source
// whose changes the daemon already streams (so the server does not send its
// Relation message again), then UPDATE/DELETE on that source.
TEST_CASE_METHOD(PgDatabase, "e2e: a table added while running over an already streamed source",
                 "[e2e][added-on-streamed-source]") {
  exec(R"sql(
    CREATE TABLE a (id int PRIMARY KEY, v int, grp int);
    INSERT INTO a SELECT g, g % 7, g % 3 FROM generate_series(1, 50) g;
  )sql");
  const StreamTableSpec t_a{"public.t_a", "SELECT id, v FROM a WHERE v > 2"};
  const StreamTableSpec t_new{"public.t_new", "SELECT grp, count(*) AS n, sum(v) AS s FROM a GROUP BY grp"};
  DaemonProcess daemon(*this, {t_a});
  daemon.start();
  daemon.wait_until_active(1);
  PgConnection check(conninfo());
  exec("UPDATE a SET v = v + 1 WHERE id < 4");  // the stream now carried a's Relation message
  sync_all(conninfo(), 1, std::chrono::seconds(60), &daemon);

  SECTION("added by SIGHUP") {
    daemon.set_tables({t_a, t_new});
    daemon.sighup();
    daemon.wait_until_active(2, std::chrono::seconds(60));
  }
  SECTION("added by create_stream_table") {
    check.exec("SELECT pgstream.create_stream_table('public.t_new', " + check.quote_literal(t_new.query) +
               ")");
  }
  check_equal(check, t_new.name, t_new.query);
  exec(
      "UPDATE a SET grp = (grp + 1) % 3 WHERE id % 5 = 0; DELETE FROM a WHERE id = 7; INSERT INTO a VALUES "
      "(99, 9, 0)");
  sync_all(conninfo(), 2, std::chrono::seconds(60), &daemon);
  check_equal(check, t_new.name, t_new.query);
  check_equal(check, t_a.name, t_a.query);
  INFO("log:\n" << daemon.tail());
  CHECK(daemon.sigterm_and_wait() == 0);
}

// SPEC §4: frontiers follow the server while idle (at least once a second),
// so read-your-writes works on an idle database; but an idle daemon should
// not keep the server busy writing WAL for its own frontier updates.
TEST_CASE_METHOD(PgDatabase, "e2e: an idle daemon advances frontiers without flooding the WAL",
                 "[e2e][idle]") {
  exec(R"sql(
    CREATE TABLE a (id int PRIMARY KEY, v int, grp int);
    INSERT INTO a SELECT g, g % 7, g % 3 FROM generate_series(1, 50) g;
  )sql");
  const std::vector<StreamTableSpec> tables{{"public.t_a", "SELECT id, v FROM a WHERE v > 2"},
                                            {"public.t_g", "SELECT grp, count(*) AS n FROM a GROUP BY grp"}};
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());
  PgConnection check(conninfo());
  sync_all(conninfo(), tables.size(), std::chrono::seconds(60), &daemon);
  const std::string frontier_before =
      check.query_value("SELECT min(frontier_lsn)::text FROM pgstream.pgs_stream_tables");
  const std::string wal_before = check.query_value("SELECT pg_current_wal_lsn()::text");
  const std::string commits_before =
      check.query_value("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
  std::this_thread::sleep_for(std::chrono::seconds(3));  // measuring an idle period, not synchronising
  const std::string wal_bytes =
      check.query_value("SELECT pg_current_wal_lsn() - " + check.quote_literal(wal_before) + "::pg_lsn");
  const std::string frontier_moved =
      check.query_value("SELECT min(frontier_lsn) > " + check.quote_literal(frontier_before) +
                        "::pg_lsn FROM pgstream.pgs_stream_tables");
  const std::string history = check.query_value("SELECT count(*) FROM pgstream.pgs_refresh_history");
  check.exec("SELECT pg_stat_clear_snapshot()");
  const std::string commits = check.query_value("SELECT xact_commit - " + commits_before +
                                                " FROM pg_stat_database WHERE datname = current_database()");
  INFO("idle for 3 s: " << wal_bytes << " bytes of WAL, ~" << commits
                        << " commits in the database, history rows " << history);
  CHECK(frontier_moved == "t");
  CHECK(std::stod(wal_bytes) < 256 * 1024);
  CHECK(daemon.sigterm_and_wait() == 0);
}
