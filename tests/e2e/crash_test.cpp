// Exactly-once across crashes: kill -9 of the daemon at seeded random points
// of a stream of single-statement transactions, restarting it each time.
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <climits>
#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>

#include "e2e/daemon_process.hpp"
#include "e2e/workload.hpp"
#include "support/pg_cluster.hpp"

using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

namespace {

// A writer thread running `total` transactions (`transaction` each) that
// waits before transaction i until i < the gate the test moves. The
// destructor opens the gate and joins (also when the test fails).
class GatedWriter {
 public:
  GatedWriter(const std::string& conninfo, int total, int gate,
              std::function<void(PgConnection&)> transaction)
      : gate_(gate), thread_([this, conninfo, total, transaction = std::move(transaction)] {
          try {
            PgConnection conn(conninfo);
            for (int i = 0; i < total; ++i) {
              {
                std::unique_lock lock(mutex_);
                changed_.wait(lock, [&] { return i < gate_; });
              }
              transaction(conn);
              {
                std::lock_guard lock(mutex_);
                ++done_;
              }
              changed_.notify_all();
            }
          } catch (...) {
            std::lock_guard lock(mutex_);
            failure_ = std::current_exception();
            done_ = INT_MAX;
            changed_.notify_all();
          }
        }) {}
  GatedWriter(const GatedWriter&) = delete;
  GatedWriter& operator=(const GatedWriter&) = delete;
  ~GatedWriter() {
    open_to(INT_MAX);
    if (thread_.joinable()) thread_.join();
  }

  // Waits (at most 120 s) until `count` transactions are done.
  void wait_done(int count) {
    std::unique_lock lock(mutex_);
    REQUIRE(changed_.wait_for(lock, std::chrono::seconds(120), [&] { return done_ >= count; }));
    if (failure_) std::rethrow_exception(failure_);
  }
  void open_to(int gate) {
    {
      std::lock_guard lock(mutex_);
      gate_ = gate;
    }
    changed_.notify_all();
  }
  // Joins the writer (the gate must be open); rethrows its failure.
  void finish() {
    thread_.join();
    if (failure_) std::rethrow_exception(failure_);
  }
  [[nodiscard]] int done() {
    std::lock_guard lock(mutex_);
    return done_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int done_ = 0;
  int gate_;
  std::exception_ptr failure_;
  std::thread thread_;  // last: starts once the members above are set
};

}  // namespace

TEST_CASE_METHOD(PgDatabase,
                 "e2e: kill -9 at 10 seeded points of a 5000-transaction stream loses and repeats nothing",
                 "[e2e][crash]") {
  exec(workload_schema_sql());
  const auto tables = crash_tables();
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());

  const std::uint64_t seed = test_seed(5000);
  INFO("seed " << seed << " (PGSTREAM_E2E_SEED reproduces)");
  std::mt19937_64 plan(seed);
  const int total = scaled(5000);
  constexpr int kKills = 10;
  std::vector<int> points;  // the writer's transaction count at which the daemon dies
  for (int k = 0; k < kKills; ++k) {
    points.push_back(std::uniform_int_distribution<int>(total / 20, total * 9 / 10)(plan));
  }
  std::sort(points.begin(), points.end());
  // After a kill the writer goes on for a seeded number of transactions
  // while the daemon restarts, then waits until it is ACTIVE again.
  auto gate_after = [&](int point) { return point + std::uniform_int_distribution<int>(20, 250)(plan); };

  GatedWriter writer(conninfo(), total, gate_after(points[0]),
                     [rng = std::mt19937_64(seed + 1)](PgConnection& conn) mutable {
                       const std::string statement = random_statement(rng);
                       try {
                         conn.exec(statement);  // autocommit: one statement, one transaction
                       } catch (const pgstream::Error&) {
                         if (PQstatus(conn.get()) != CONNECTION_OK) throw;  // unique violations are fine
                       }
                     });

  for (int k = 0; k < kKills; ++k) {
    writer.wait_done(points[k]);
    REQUIRE(daemon.running());
    daemon.kill9();
    daemon.start();
    // Sometimes a second kill while the restarted daemon is still loading.
    if (std::bernoulli_distribution(0.3)(plan)) {
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 400)(plan)));
      if (daemon.running()) daemon.kill9();
      daemon.start();
    }
    daemon.wait_until_active(tables.size());
    writer.open_to(k + 1 < kKills ? gate_after(points[k + 1]) : INT_MAX);
  }
  writer.finish();

  const std::string lsn = sync_all(conninfo(), tables.size(), std::chrono::seconds(120), &daemon);
  INFO("synced to " << lsn << " after " << writer.done() << " transactions");
  PgConnection check(conninfo());
  check_all_equal(check, tables);
  check_history_monotonic(check);
  // The daemon also survives its restarts cleanly.
  CHECK(daemon.sigterm_and_wait() == 0);
}

// SPEC §2: SIGTERM finishes the batch in flight, confirms its LSN and exits
// 0; a restart afterwards ends exact. Three stops under a running writer.
TEST_CASE_METHOD(PgDatabase, "e2e: SIGTERM under load exits 0 and a restart ends exact", "[e2e][sigterm]") {
  exec(workload_schema_sql());
  const auto tables = crash_tables();
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());
  const std::uint64_t seed = test_seed(31337);
  INFO("seed " << seed << " (PGSTREAM_E2E_SEED reproduces)");
  const int step = scaled(300);
  constexpr int kStops = 3;
  // The writer runs on a little past each stop, then waits for the restart.
  GatedWriter writer(
      conninfo(), step * (kStops + 1), step + step / 2,
      [rng = std::mt19937_64(seed)](PgConnection& conn) mutable { (void)run_random_transaction(conn, rng); });
  for (int stop = 1; stop <= kStops; ++stop) {
    writer.wait_done(stop * step);
    CHECK(daemon.sigterm_and_wait() == 0);
    CHECK(daemon.log().find("stopped at") != std::string::npos);
    daemon.start();
    daemon.wait_until_active(tables.size());
    writer.open_to(stop < kStops ? (stop + 1) * step + step / 2 : INT_MAX);
  }
  writer.finish();
  sync_all(conninfo(), tables.size(), std::chrono::seconds(60), &daemon);
  PgConnection check(conninfo());
  check_all_equal(check, tables);
  check_history_monotonic(check);
  CHECK(daemon.sigterm_and_wait() == 0);
}

// A source transaction far bigger than one batch (writer.max_batch_rows):
// it must arrive whole (SPEC §6: a batch never splits a source transaction;
// big transactions spill or stream).
TEST_CASE_METHOD(PgDatabase, "e2e: one large source transaction is applied whole and exact", "[e2e][large]") {
  exec(workload_schema_sql());
  const std::vector<StreamTableSpec> tables{
      {"public.st_keyless", "SELECT kind, val FROM events WHERE val IS DISTINCT FROM 2"},
      {"public.st_kinds", "SELECT kind, count(*) AS n, sum(val) AS s FROM events GROUP BY kind"}};
  DaemonSettings settings;
  settings.max_batch_rows = 5000;
  DaemonProcess daemon(*this, tables, settings);
  daemon.start();
  daemon.wait_until_active(tables.size());
  const int rows = scaled(100000);
  exec("BEGIN; INSERT INTO events SELECT (ARRAY['a','b','c'])[g % 3 + 1], g % 5 FROM generate_series(1, " +
       std::to_string(rows) +
       ") g; UPDATE events SET val = val + 1 WHERE val = 3; DELETE FROM events WHERE val = 0; COMMIT");
  sync_all(conninfo(), tables.size(), std::chrono::seconds(120), &daemon);
  PgConnection check(conninfo());
  check_all_equal(check, tables);
  // No apply of a batch that ends inside the transaction: every history row's frontier is at a commit
  // boundary, so the two tables' frontiers agree.
  CHECK(check.query_value("SELECT count(DISTINCT frontier_lsn) FROM pgstream.pgs_stream_tables") == "1");
  CHECK(daemon.sigterm_and_wait() == 0);
}
