// Stream tables over stream tables (SPEC §5: "other stream tables, chained
// in memory, in dependency order"), end to end: a chain and diamonds under
// concurrent writers (NULLs, duplicates, key updates, deletes, a TRUNCATE
// that reloads a chain), a downstream created with the SQL API while its
// upstream runs under writes, an upstream's ERROR/SUSPENDED/drop taking its
// downstreams with it and ALTER ... ACTIVE bringing them back, and kill -9
// with a chain. Every target is compared with its query (EXCEPT ALL both
// ways) after pgstream.wait_for(pg_current_wal_lsn()).
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <exception>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "e2e/daemon_process.hpp"
#include "e2e/workload.hpp"
#include "support/pg_cluster.hpp"

using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

namespace {

// orders -> chain_group -> chain_level2 -> chain_level3, two diamonds (one
// joins a base table with a stream table: both fed by one transaction), and
// a keyless upstream over a REPLICA IDENTITY FULL source with duplicates.
std::vector<StreamTableSpec> chain_tables() {
  return {
      {"public.chain_group",
       "SELECT customer_id, count(*) AS n, sum(amount) AS total, max(amount) AS max_amount\n"
       "FROM orders GROUP BY customer_id"},
      {"public.chain_level2", "SELECT customer_id, n, total FROM chain_group WHERE n >= 9"},
      {"public.chain_level3",
       "SELECT n, count(*) AS customers, sum(total) AS total FROM chain_level2 GROUP BY n"},
      {"public.chain_diamond",
       "SELECT a.customer_id, a.n, b.max_amount FROM chain_level2 a JOIN chain_group b ON b.customer_id = "
       "a.customer_id"},
      {"public.chain_mixed",
       "SELECT o.id, o.amount, g.n FROM orders o JOIN chain_group g ON g.customer_id = o.customer_id "
       "WHERE o.qty IS NULL OR o.qty > 3"},
      {"public.chain_events", "SELECT kind, val FROM events WHERE val IS NULL OR val < 3"},
      {"public.chain_event_kinds",
       "SELECT kind, count(*) AS n, count(val) AS vals FROM chain_events GROUP BY kind"},
  };
}

std::string last_error_of(PgConnection& conn, const std::string& name) {
  return conn.query_value(
      "SELECT coalesce((SELECT last_error FROM pgstream.pgs_stream_tables WHERE pgs_name = " +
      conn.quote_literal(name) + "), '')");
}

// Writers running random transactions until stopped; every 25th transaction
// of the first one also truncates `events` (a chain reloads).
class Writers {
 public:
  Writers(std::string conninfo, std::uint64_t seed, int count, bool truncates)
      : conninfo_(std::move(conninfo)) {
    for (int w = 0; w < count; ++w) {
      threads_.emplace_back([this, seed, w, truncates] {
        run(seed * 100 + static_cast<std::uint64_t>(w), w == 0 && truncates);
      });
    }
  }
  Writers(const Writers&) = delete;
  Writers& operator=(const Writers&) = delete;
  // Stops the writers (a test that failed midway must not hang or throw here).
  ~Writers() {
    if (threads_.empty()) return;
    target_.store(0);
    for (auto& thread : threads_) thread.join();
  }

  // Lets every writer run `per_writer` more transactions, then stops them;
  // the transactions committed in all.
  int run_for(int per_writer) {
    target_.store(per_writer);
    return stop();
  }
  // Polls (bounded) until the writers have committed `count` transactions.
  void wait_committed(int count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (committed_.load() < count) {
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a counter, bounded
    }
  }
  int stop() {
    for (auto& thread : threads_) thread.join();
    threads_.clear();
    if (failure_) std::rethrow_exception(failure_);
    return committed_.load();
  }

 private:
  void run(std::uint64_t seed, bool truncates) {
    try {
      PgConnection conn(conninfo_);
      conn.exec("SET deadlock_timeout = '20ms'");
      std::mt19937_64 rng(seed);
      int left = -1;
      for (int i = 0;; ++i) {
        if (const int target = target_.load(); target >= 0) {
          if (left < 0) left = target;
          if (left-- == 0) break;
        }
        if (truncates && i % 25 == 24) {
          conn.exec(
              "BEGIN; TRUNCATE events; INSERT INTO events VALUES ('a', 1), ('a', 1), (NULL, 2), ('b', NULL); "
              "COMMIT");
          ++committed_;
          continue;
        }
        if (run_random_transaction(conn, rng)) ++committed_;
      }
    } catch (...) {
      std::lock_guard lock(mutex_);
      failure_ = std::current_exception();
    }
  }

  std::string conninfo_;
  std::vector<std::thread> threads_;
  std::atomic<int> target_{-1};
  std::atomic<int> committed_{0};
  std::mutex mutex_;
  std::exception_ptr failure_;
};

}  // namespace

TEST_CASE_METHOD(PgDatabase, "e2e: a chain and diamonds of stream tables under concurrent writers",
                 "[e2e][chain]") {
  exec(workload_schema_sql());
  const auto tables = chain_tables();
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size(), std::chrono::seconds(30));
  PgConnection check(conninfo());
  check_all_equal(check, tables);
  // Read in memory, not from the target: the plan and the dependencies say so.
  CHECK(check.query_value("SELECT count(DISTINCT pgs_id) FROM pgstream.pgs_dependencies WHERE source_type = "
                          "'STREAM_TABLE'") == "5");
  CHECK(
      check.query_value("SELECT explain_plan FROM pgstream.pgs_stream_tables WHERE pgs_name = 'chain_level2'")
          .find("StreamTableScan public.chain_group") != std::string::npos);

  const std::uint64_t seed = test_seed(5150);
  INFO("seed " << seed << " (PGSTREAM_E2E_SEED reproduces)");
  constexpr int kRounds = 3;
  int committed = 0;
  for (int round = 0; round < kRounds; ++round) {
    Writers writers(conninfo(), seed * 10 + static_cast<std::uint64_t>(round), 2, true);
    committed = writers.run_for(scaled(120));
    const std::string lsn = sync_all(conninfo(), tables.size(), std::chrono::seconds(60), &daemon);
    INFO("round " << round << ": " << committed << " transactions committed, synced to " << lsn);
    check_all_equal(check, tables);
  }
  CHECK(committed > 0);
  CHECK(daemon.log().find("loading its chain again") != std::string::npos);  // the TRUNCATEs reloaded it
  check_history_monotonic(check);
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase,
                 "e2e: a downstream created with the SQL API while its upstream runs under writes",
                 "[e2e][chain][sql-api]") {
  exec(workload_schema_sql());
  const std::vector<StreamTableSpec> upstream{chain_tables()[0]};
  DaemonProcess daemon(*this, upstream);
  daemon.start();
  daemon.wait_until_active(1, std::chrono::seconds(30));
  PgConnection check(conninfo());

  const std::uint64_t seed = test_seed(77);
  INFO("seed " << seed << " (PGSTREAM_E2E_SEED reproduces)");
  Writers writers(conninfo(), seed, 2, false);
  const std::vector<StreamTableSpec> downstream{
      {"public.sql_level2", "SELECT customer_id, n, total FROM chain_group WHERE n >= 9"},
      {"public.sql_mixed",
       "SELECT o.id, o.amount, g.n FROM orders o JOIN chain_group g ON g.customer_id = o.customer_id"},
  };
  for (const auto& table : downstream) {
    check.exec("SELECT pgstream.create_stream_table(" + check.quote_literal(table.name) + ", " +
               check.quote_literal(table.query) + ")");
  }
  // Over a table of its own chain, still under writes.
  const StreamTableSpec level3{"public.sql_level3",
                               "SELECT n, count(*) AS customers FROM sql_level2 GROUP BY n"};
  check.exec("SELECT pgstream.create_stream_table(" + check.quote_literal(level3.name) + ", " +
             check.quote_literal(level3.query) + ")");
  // A downstream with a schedule applies what its upstream fed it on its beats.
  const StreamTableSpec scheduled{"public.sql_scheduled",
                                  "SELECT customer_id, total FROM chain_group WHERE total > 100"};
  check.exec("SELECT pgstream.create_stream_table(" + check.quote_literal(scheduled.name) + ", " +
             check.quote_literal(scheduled.query) + ", schedule => '1s')");
  CHECK(writers.run_for(scaled(150)) > 0);
  sync_all(conninfo(), 5, std::chrono::seconds(60), &daemon);
  check_all_equal(check, upstream);
  check_all_equal(check, downstream);
  check_equal(check, level3.name, level3.query);
  check_equal(check, scheduled.name, scheduled.query);
  check_history_monotonic(check);

  // Out of scope: DIFFERENTIAL over a FULL or scheduled upstream is refused,
  // nothing is created; FULL over a stream table works.
  check.exec(
      "SELECT pgstream.create_stream_table('public.full_up', 'SELECT customer_id, n FROM chain_group', "
      "refresh_mode => 'FULL')");
  try {
    check.exec("SELECT pgstream.create_stream_table('public.over_full', 'SELECT customer_id FROM full_up')");
    FAIL("a DIFFERENTIAL table over a FULL one was accepted");
  } catch (const pgstream::Error& error) {
    CHECK(error.sqlstate() == "0A000");
    CHECK(error.message().find("refreshed FULL") != std::string::npos);
  }
  CHECK(status_of(check, "over_full") == "missing");
  check.exec(
      "SELECT pgstream.create_stream_table('public.sched_up', 'SELECT id, amount FROM orders', schedule => "
      "'1h')");
  try {
    check.exec("SELECT pgstream.create_stream_table('public.over_sched', 'SELECT id FROM sched_up')");
    FAIL("a DIFFERENTIAL table over a scheduled one was accepted");
  } catch (const pgstream::Error& error) {
    CHECK(error.sqlstate() == "0A000");
    CHECK(error.message().find("has a schedule") != std::string::npos);
  }
  CHECK(status_of(check, "over_sched") == "missing");
  CHECK(check.query_value("SELECT to_regclass('public.over_full') IS NULL") == "t");
  check.exec(
      "SELECT pgstream.create_stream_table('public.full_down', 'SELECT n, count(*) AS c FROM sql_level2 "
      "GROUP "
      "BY n', refresh_mode => 'FULL')");
  CHECK(status_of(check, "full_down") == "ACTIVE");
  check_equal(check, "public.full_down", "SELECT n, count(*) AS c FROM sql_level2 GROUP BY n");
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase, "e2e: an upstream's ERROR, suspension and drop take its downstreams along",
                 "[e2e][chain][errors]") {
  exec(
      "CREATE TABLE nums (id int PRIMARY KEY, v int); INSERT INTO nums SELECT g, 1 + g % 5 FROM "
      "generate_series(1, 100) g");
  const std::vector<StreamTableSpec> tables{
      {"public.up_div", "SELECT id, v, 100 / v AS r FROM nums"},
      {"public.down_sum", "SELECT v, count(*) AS n, sum(r) AS r FROM up_div GROUP BY v"},
      {"public.down_more", "SELECT v, n FROM down_sum WHERE n > 1"},
  };
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size(), std::chrono::seconds(30));
  PgConnection check(conninfo());
  check_all_equal(check, tables);

  exec("INSERT INTO nums VALUES (1000, 0)");  // 100 / 0 in up_div's dataflow
  wait_status(check, "down_more", "ERROR", daemon);
  CHECK(status_of(check, "up_div") == "ERROR");
  CHECK(status_of(check, "down_sum") == "ERROR");
  CHECK(last_error_of(check, "down_sum").find("public.up_div is in ERROR") != std::string::npos);
  CHECK(last_error_of(check, "down_more").find("public.down_sum is in ERROR") != std::string::npos);

  // The upstream fixed and resumed: the chain comes back with it.
  exec("DELETE FROM nums WHERE id = 1000; UPDATE nums SET v = v + 1 WHERE id < 20");
  check.exec("SELECT pgstream.alter_stream_table('public.up_div', status => 'ACTIVE')");
  wait_status(check, "down_more", "ACTIVE", daemon);
  exec("UPDATE nums SET v = 6 WHERE id % 9 = 0; DELETE FROM nums WHERE id % 13 = 0");
  sync_all(conninfo(), tables.size(), std::chrono::seconds(30), &daemon);
  check_all_equal(check, tables);

  // A downstream suspended and resumed while its upstream is fine.
  check.exec("SELECT pgstream.alter_stream_table('public.down_sum', status => 'SUSPENDED')");
  CHECK(status_of(check, "down_more") == "ERROR");
  CHECK(last_error_of(check, "down_more").find("SUSPENDED") != std::string::npos);
  exec("INSERT INTO nums VALUES (2000, 2), (2001, 3)");
  check.exec("SELECT pgstream.alter_stream_table('public.down_sum', status => 'ACTIVE')");
  wait_status(check, "down_more", "ACTIVE", daemon);
  sync_all(conninfo(), tables.size(), std::chrono::seconds(30), &daemon);
  check_all_equal(check, tables);

  // The upstream dropped: its downstream says so.
  check.exec("SELECT pgstream.drop_stream_table('public.up_div')");
  CHECK(status_of(check, "down_sum") == "ERROR");
  CHECK(last_error_of(check, "down_sum").find("public.up_div was dropped") != std::string::npos);
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase, "e2e: a downstream whose upstream fails at its first start comes back with it",
                 "[e2e][chain][errors]") {
  exec("CREATE TABLE nums (id int PRIMARY KEY, v int)");
  const std::vector<StreamTableSpec> tables{
      {"public.up_late", "SELECT n.id, n.v, l.w FROM nums n JOIN late l ON l.id = n.id"},
      {"public.down_late", "SELECT v, count(*) AS n, sum(w) AS w FROM up_late GROUP BY v"},
  };
  DaemonProcess daemon(*this, tables);
  daemon.start();
  PgConnection check(conninfo());
  // up_late's source does not exist: it never creates its target, and
  // down_late's query cannot even be compiled. It waits for up_late.
  wait_status(check, "down_late", "ERROR", daemon);
  CHECK(status_of(check, "up_late") == "ERROR");
  CHECK(last_error_of(check, "down_late").find("public.up_late is in ERROR") != std::string::npos);

  exec("CREATE TABLE late (id int PRIMARY KEY, w int)");
  exec("INSERT INTO nums SELECT g, g % 4 FROM generate_series(1, 50) g");
  exec("INSERT INTO late SELECT g, g * 10 FROM generate_series(1, 40) g");
  check.exec("SELECT pgstream.alter_stream_table('public.up_late', status => 'ACTIVE')");
  wait_status(check, "down_late", "ACTIVE", daemon);
  exec("UPDATE late SET w = w + 1 WHERE id % 3 = 0; DELETE FROM nums WHERE id % 7 = 0");
  sync_all(conninfo(), tables.size(), std::chrono::seconds(30), &daemon);
  check_all_equal(check, tables);
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase, "e2e: kill -9 and a restart with a chain reconcile every target",
                 "[e2e][chain][restart]") {
  exec(workload_schema_sql());
  auto tables = chain_tables();
  tables.resize(5);  // orders only
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size(), std::chrono::seconds(30));
  PgConnection check(conninfo());
  const std::uint64_t seed = test_seed(911);
  INFO("seed " << seed << " (PGSTREAM_E2E_SEED reproduces)");
  {
    Writers writers(conninfo(), seed, 2, false);
    writers.wait_committed(scaled(40));  // the kill comes mid-stream
    daemon.kill9();
    CHECK(writers.run_for(scaled(60)) > 0);  // and go on while it is down
  }
  daemon.start();
  daemon.wait_until_active(tables.size(), std::chrono::seconds(30));
  sync_all(conninfo(), tables.size(), std::chrono::seconds(60), &daemon);
  check_all_equal(check, tables);
  std::mt19937_64 rng(seed + 1);
  for (int i = 0; i < scaled(80); ++i) (void)run_random_transaction(check, rng);
  sync_all(conninfo(), tables.size(), std::chrono::seconds(60), &daemon);
  check_all_equal(check, tables);
  CHECK(daemon.sigterm_and_wait() == 0);
}
