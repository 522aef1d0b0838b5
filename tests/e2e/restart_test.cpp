// A database crash (pg_ctl restart -m immediate) in the middle of a stream:
// the daemon, not restarted by the test, reconnects and ends exact.
#include <atomic>
#include <catch2/catch.hpp>
#include <exception>
#include <memory>
#include <thread>

#include "e2e/daemon_process.hpp"
#include "e2e/workload.hpp"
#include "support/pg_cluster.hpp"

using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

TEST_CASE_METHOD(PgDatabase,
                 "e2e: pg_ctl restart -m immediate (3x) mid-stream, the daemon recovers on its own",
                 "[e2e][restart]") {
  exec(workload_schema_sql());
  const auto tables = crash_tables();
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());

  const std::uint64_t seed = test_seed(7);
  INFO("seed " << seed << " (PGSTREAM_E2E_SEED reproduces)");
  const int before = scaled(300);
  const int after = scaled(400);
  std::atomic<int> committed{0};
  std::atomic<int> connection_errors{0};
  std::atomic<bool> stop{false};
  std::exception_ptr failure;
  std::atomic<bool> writer_failed{false};
  const std::string dsn = conninfo();
  std::thread writer([&] {
    try {
      std::mt19937_64 rng(seed);
      std::unique_ptr<PgConnection> conn;
      while (!stop.load()) {
        if (!conn) {
          try {
            conn = std::make_unique<PgConnection>(dsn);
            conn->exec("SET deadlock_timeout = '20ms'");
          } catch (const pgstream::Error&) {
            conn.reset();
            std::this_thread::sleep_for(std::chrono::milliseconds(50));  // server restarting
            continue;
          }
        }
        try {
          if (run_random_transaction(*conn, rng)) ++committed;
        } catch (const pgstream::Error&) {  // the connection died under us (maybe mid-commit)
          ++connection_errors;
          conn.reset();
        }
      }
    } catch (...) {
      failure = std::current_exception();
      writer_failed = true;
    }
  });
  struct Stopper {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~Stopper() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } stopper{stop, writer};

  auto wait_committed = [&](int n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (committed.load() < n && !writer_failed.load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // watching the writer's progress
    }
    REQUIRE(committed.load() >= n);
  };
  // Three crashes of the server at seeded moments of the stream.
  std::mt19937_64 plan(seed + 1);
  int target = 0;
  for (int crash = 0; crash < 3; ++crash) {
    target += before / 2 + std::uniform_int_distribution<int>(0, before)(plan);
    wait_committed(target);
    cluster().restart("immediate");
  }
  wait_committed(target + after);
  stop = true;
  writer.join();
  if (failure) std::rethrow_exception(failure);
  INFO("committed " << committed.load() << ", writer connection errors " << connection_errors.load());
  CHECK(connection_errors.load() >= 1);  // the restart really happened under the writer

  const std::string lsn = sync_all(dsn, tables.size(), std::chrono::seconds(180), &daemon);
  INFO("synced to " << lsn);
  REQUIRE(daemon.running());
  PgConnection check(dsn);
  check_all_equal(check, tables);
  check_history_monotonic(check);
  CHECK(daemon.sigterm_and_wait() == 0);
}
