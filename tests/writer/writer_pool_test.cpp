#include <catch2/catch.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pgstream/writer/apply.hpp"
#include "pgstream/writer/writer_pool.hpp"
#include "writer_testing.hpp"

using pgstream::ErrorAction;
using pgstream::Lsn;
using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using pgstream::writer::Action;
using pgstream::writer::apply_delta;
using pgstream::writer::create_target;
using pgstream::writer::DeltaRow;
using pgstream::writer::Frontier;
using pgstream::writer::prepare_session;
using pgstream::writer::TargetSpec;
using pgstream::writer::WriterPool;
using pgstream::writer::WriterPoolOptions;
using pgstream::writer::testing::Multiset;
using pgstream::writer::testing::register_target;
using pgstream::writer::testing::target_rows;

TEST_CASE_METHOD(PgDatabase,
                 "WriterPool applies targets in parallel, isolates failures, retries transient ones",
                 "[writer][pg]") {
  PgConnection& conn = connection();
  prepare_session(conn);
  std::vector<TargetSpec> specs;
  for (const char* name : {"a", "b", "c"}) {
    TargetSpec spec;
    spec.schema = "public";
    spec.name = name;
    spec.columns = {{"k", "integer"}, {"v", "text"}};
    spec.key = {0};
    spec.pgs_id = register_target(conn, spec);
    (void)create_target(conn, spec);
    specs.push_back(spec);
  }
  WriterPool pool(WriterPoolOptions{.conninfo = conninfo(),
                                    .size = 2,
                                    .initial_backoff = std::chrono::milliseconds(10),
                                    .max_backoff = std::chrono::milliseconds(200)});
  auto jobs_for = [&](int epoch) {
    std::vector<WriterPool::Job> jobs;
    for (const auto& spec : specs) {
      jobs.emplace_back([&spec, epoch](PgConnection& c) {
        std::vector<DeltaRow> delta = {{std::to_string(epoch) + "\t" + spec.name, 1}};
        if (epoch > 0) delta.push_back({std::to_string(epoch - 1) + "\t" + spec.name, -1});
        (void)apply_delta(c, spec, delta,
                          Frontier{Lsn(0x100 + static_cast<std::uint64_t>(epoch)), std::nullopt},
                          Action::Differential);
      });
    }
    return jobs;
  };

  auto outcomes = pool.run(jobs_for(0));
  REQUIRE(outcomes.size() == 3);
  for (const auto& outcome : outcomes) CHECK_FALSE(outcome.has_value());
  for (const auto& spec : specs) CHECK(target_rows(conn, spec) == Multiset{{"0\t" + spec.name, 1}});
  CHECK(pool.connects() >= 1);
  CHECK(pool.connects() <= 2);

  SECTION("a dropped target fails only its own job") {
    exec("DROP TABLE b");
    outcomes = pool.run(jobs_for(1));
    CHECK_FALSE(outcomes[0].has_value());
    REQUIRE(outcomes[1].has_value());
    CHECK(outcomes[1]->sqlstate() == "42P01");
    CHECK(classify(*outcomes[1]) == ErrorAction::FailStreamTable);
    CHECK_FALSE(outcomes[2].has_value());
    CHECK(target_rows(conn, specs[0]) == Multiset{{"1\ta", 1}});
    CHECK(target_rows(conn, specs[2]) == Multiset{{"1\tc", 1}});
    CHECK(query_value("SELECT count(*) FROM pgstream.pgs_refresh_history WHERE pgs_id = " +
                      std::to_string(specs[1].pgs_id)) == "1");
  }
  SECTION("a terminated connection is reconnected and the job retried") {
    // Make sure both workers have a connection, then terminate every one.
    for (int i = 0; i < 10 && pool.connects() < 2; ++i) {
      std::vector<WriterPool::Job> warm(2, [](PgConnection& c) { (void)c.exec("SELECT pg_sleep(0.05)"); });
      for (const auto& outcome : pool.run(std::move(warm))) CHECK_FALSE(outcome.has_value());
    }
    CHECK(pool.connects() == 2);
    const std::string killed = query_value(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'pgstream "
        "writer' "
        "AND datname = current_database() AND pid <> pg_backend_pid()");
    CHECK(killed == "2");
    const auto connects_before = pool.connects();
    outcomes = pool.run(jobs_for(1));
    for (const auto& outcome : outcomes) CHECK_FALSE(outcome.has_value());
    CHECK(pool.retries() >= 1);
    CHECK(pool.connects() > connects_before);
    for (const auto& spec : specs) CHECK(target_rows(conn, spec) == Multiset{{"1\t" + spec.name, 1}});
  }
  SECTION("stop() ends the retries of a job that cannot succeed") {
    pool.stop();
    outcomes = pool.run(jobs_for(1));
    for (const auto& outcome : outcomes) REQUIRE(outcome.has_value());
  }
}

TEST_CASE_METHOD(PgDatabase, "WriterPool stop() cancels a job that waits on a lock", "[writer][pg][cancel]") {
  exec("CREATE TABLE held (k int)");
  PgConnection locker(conninfo());
  locker.exec("BEGIN");
  locker.exec("LOCK TABLE held IN ACCESS EXCLUSIVE MODE");

  auto pool = std::make_unique<WriterPool>(WriterPoolOptions{.conninfo = conninfo(), .size = 1});
  std::vector<WriterPool::Outcome> outcomes;
  std::thread runner(
      [&] { outcomes = pool->run({[](PgConnection& c) { (void)c.exec("INSERT INTO held VALUES (1)"); }}); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (query_value("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'held'::regclass") ==
         "0") {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(pool->running() == 1);

  const auto stopping = std::chrono::steady_clock::now();
  pool->stop();
  runner.join();  // without the cancel, this waits as long as the lock is held
  pool.reset();
  CHECK(std::chrono::steady_clock::now() - stopping < std::chrono::seconds(10));
  REQUIRE(outcomes.size() == 1);
  REQUIRE(outcomes[0].has_value());
  CHECK(outcomes[0]->sqlstate() == "57014");  // query_canceled
  locker.exec("ROLLBACK");
  CHECK(query_value("SELECT count(*) FROM held") == "0");
}
