// Stopping while the server is gone: SIGTERM waits (a while) for the epoch
// in flight, whose writers keep retrying; a second SIGTERM stops at once,
// and the next start reconciles the target.
#include <signal.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "e2e/daemon_process.hpp"
#include "support/pg_cluster.hpp"

using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

namespace {

using Clock = std::chrono::steady_clock;

// Polls the daemon's log (bounded) for `text`.
bool log_shows(const DaemonProcess& daemon, const std::string& text, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (daemon.log().find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace

TEST_CASE_METHOD(PgDatabase,
                 "e2e: a second SIGTERM stops a daemon whose writers retry against a stopped server",
                 "[e2e][sigterm][server-gone]") {
  exec("CREATE TABLE gone_src (id int PRIMARY KEY, grp int, v int)");
  exec("INSERT INTO gone_src SELECT g, g % 50, g FROM generate_series(1, 1000) g");
  const std::vector<StreamTableSpec> tables{
      {"public.gone_sum", "SELECT grp, count(*) AS n, sum(v) AS s FROM gone_src GROUP BY grp"}};
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());

  // The apply of a change waits on a lock the test holds; then the server
  // dies under it, and the writers retry against no server.
  PgConnection locker(conninfo());
  locker.exec("BEGIN");
  locker.exec("LOCK TABLE gone_sum IN ACCESS EXCLUSIVE MODE");
  exec("INSERT INTO gone_src SELECT g, g % 50, g FROM generate_series(1001, 2000) g");
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (query_value("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'gone_sum'::regclass") ==
         "0") {
    REQUIRE(Clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  cluster().stop("immediate");
  REQUIRE(log_shows(daemon, "retrying in", std::chrono::seconds(30)));

  REQUIRE(kill(daemon.pid(), SIGTERM) == 0);
  REQUIRE(log_shows(daemon, "finishing the epoch in flight", std::chrono::seconds(10)));
  const auto second = Clock::now();
  REQUIRE(kill(daemon.pid(), SIGTERM) == 0);
  CHECK(daemon.sigterm_and_wait() == 0);
  CHECK(Clock::now() - second < std::chrono::seconds(10));
  CHECK(daemon.log().find("a second signal asked not to wait") != std::string::npos);

  // Nothing unapplied was confirmed: the next start ends exact.
  cluster().start();
  daemon.start();
  daemon.wait_until_active(tables.size());
  (void)sync_all(conninfo(), tables.size(), std::chrono::seconds(60), &daemon);
  PgConnection check(conninfo());
  check_equal(check, "public.gone_sum", tables[0].query);
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase,
                 "e2e: a fast shutdown of the server does not wait on an epoch the daemon cannot apply",
                 "[e2e][server-gone][fast-shutdown]") {
  exec("CREATE TABLE fast_src (id int PRIMARY KEY, grp int, v int)");
  exec("INSERT INTO fast_src SELECT g, g % 50, g FROM generate_series(1, 1000) g");
  const std::vector<StreamTableSpec> tables{
      {"public.fast_sum", "SELECT grp, count(*) AS n, sum(v) AS s FROM fast_src GROUP BY grp"}};
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());

  // An epoch the walsender sent and the writers are applying (held by a
  // lock) when the shutdown comes: the walsender waits for its
  // confirmation, which needs the server the shutdown closes.
  PgConnection locker(conninfo());
  locker.exec("BEGIN");
  locker.exec("LOCK TABLE fast_sum IN ACCESS EXCLUSIVE MODE");
  exec("INSERT INTO fast_src SELECT g, g % 50, g FROM generate_series(1001, 3000) g");
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (query_value("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'fast_sum'::regclass") ==
         "0") {
    REQUIRE(Clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const auto stopping = Clock::now();
  cluster().stop("fast");
  CHECK(Clock::now() - stopping < std::chrono::seconds(20));  // pg_ctl's own limit is 60 s

  // The daemon, not restarted, resumes with the server and ends exact.
  cluster().start();
  (void)sync_all(conninfo(), tables.size(), std::chrono::seconds(90), &daemon);
  PgConnection check(conninfo());
  check_equal(check, "public.fast_sum", tables[0].query);
  CHECK(daemon.sigterm_and_wait() == 0);
}
