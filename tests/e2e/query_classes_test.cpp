// Every query class of the brief, maintained by the real daemon while two
// writers run seeded random transactions concurrently; compared with
// PostgreSQL's own result (EXCEPT ALL both ways) after every round.
#include <catch2/catch.hpp>
#include <exception>
#include <thread>

#include "e2e/daemon_process.hpp"
#include "e2e/workload.hpp"
#include "support/pg_cluster.hpp"

using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

TEST_CASE_METHOD(PgDatabase, "e2e: every query class stays equal under two concurrent writers",
                 "[e2e][query-classes]") {
  exec(workload_schema_sql());
  const auto tables = query_class_tables();
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());
  PgConnection check(conninfo());
  check_all_equal(check, tables);

  const std::uint64_t seed = test_seed(20261126);
  INFO("seed " << seed << " (PGSTREAM_E2E_SEED reproduces)");
  constexpr int kWriters = 2;
  constexpr int kRounds = 3;
  const int per_round = (scaled(1500) + kRounds - 1) / kRounds;  // per writer
  int committed[kWriters] = {0, 0};
  std::string lsn;
  for (int round = 0; round < kRounds; ++round) {
    std::exception_ptr failures[kWriters];
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        try {
          PgConnection conn(conninfo());
          conn.exec("SET deadlock_timeout = '20ms'");  // the writers collide on purpose
          std::mt19937_64 rng(seed * 1000 + static_cast<std::uint64_t>(round * kWriters + w));
          for (int i = 0; i < per_round; ++i) {
            if (run_random_transaction(conn, rng)) ++committed[w];
          }
        } catch (...) {
          failures[w] = std::current_exception();
        }
      });
    }
    for (auto& writer : writers) writer.join();
    for (auto& failure : failures) {
      if (failure) std::rethrow_exception(failure);
    }
    lsn = sync_all(conninfo(), tables.size(), std::chrono::seconds(120), &daemon);
    INFO("round " << round << ", committed " << committed[0] << " + " << committed[1] << ", synced to "
                  << lsn);
    check_all_equal(check, tables);
  }
  CHECK(committed[0] + committed[1] > kWriters * per_round * kRounds / 2);

  // History and frontiers.
  CHECK(std::stoll(check.query_value("SELECT count(*) FROM pgstream.pgs_refresh_history")) > 0);
  CHECK(std::stoll(check.query_value("SELECT count(*) FROM pgstream.pgs_refresh_history WHERE action = "
                                     "'DIFFERENTIAL' AND status = 'SUCCESS'")) > 0);
  CHECK(std::stoll(check.query_value(
            "SELECT count(*) FROM pgstream.pgs_stream_tables WHERE frontier_lsn >= " +
            check.quote_literal(lsn) + "::pg_lsn")) == static_cast<long long>(tables.size()));
  check_history_monotonic(check);
  // The comparison means something only if the targets are not trivially empty.
  std::string empty;
  for (const auto& table : tables) {
    if (check.query_value("SELECT count(*) FROM " + table.name) == "0") empty += table.name + " ";
  }
  INFO("empty targets: " << empty);
  CHECK(empty.size() <= 20);  // at most one (st_except and st_notin may legitimately be empty at times)
  CHECK(daemon.sigterm_and_wait() == 0);
}
