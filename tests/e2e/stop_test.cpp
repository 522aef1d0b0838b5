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

const char* const kSumQuery = "SELECT grp, count(*) AS n, sum(v) AS s FROM src GROUP BY grp";

// A source `src` and its stream table `sum` (kSumQuery), loaded.
std::vector<StreamTableSpec> make_sum(PgDatabase& db) {
  db.exec("CREATE TABLE src (id int PRIMARY KEY, grp int, v int)");
  db.exec("INSERT INTO src SELECT g, g % 50, g FROM generate_series(1, 1000) g");
  return {{"public.sum", kSumQuery}};
}

// Writes a change whose apply then waits on a lock `locker` holds on the
// target: returns once a writer waits for it (bounded).
void hold_an_apply(PgDatabase& db, PgConnection& locker) {
  locker.exec("BEGIN");
  locker.exec("LOCK TABLE sum IN ACCESS EXCLUSIVE MODE");
  db.exec("INSERT INTO src SELECT g, g % 50, g FROM generate_series(1001, 3000) g");
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (db.query_value("SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'sum'::regclass") ==
         "0") {
    REQUIRE(Clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// A daemon over `sum`, loaded, with the apply of a change waiting on a lock
// `locker` holds on the target.
struct HeldApply {
  explicit HeldApply(PgDatabase& db) : daemon(db, make_sum(db)), locker(db.conninfo()) {
    daemon.start();
    daemon.wait_until_active(daemon.tables().size());
    hold_an_apply(db, locker);
  }
  DaemonProcess daemon;
  PgConnection locker;
};

// SIGTERM finds an epoch in flight and waits for it; a second SIGTERM makes
// the daemon exit 0 at once.
void stop_twice(DaemonProcess& daemon) {
  REQUIRE(kill(daemon.pid(), SIGTERM) == 0);
  REQUIRE(log_shows(daemon, "finishing the epoch in flight", std::chrono::seconds(10)));
  const auto second = Clock::now();
  REQUIRE(kill(daemon.pid(), SIGTERM) == 0);
  CHECK(daemon.sigterm_and_wait() == 0);
  CHECK(Clock::now() - second < std::chrono::seconds(10));
}

// Nothing unapplied was confirmed: the next start ends exact.
void restart_and_check(PgDatabase& db, DaemonProcess& daemon) {
  daemon.start();
  daemon.wait_until_active(daemon.tables().size());
  (void)sync_all(db.conninfo(), daemon.tables().size(), std::chrono::seconds(60), &daemon);
  PgConnection check(db.conninfo());
  check_equal(check, "public.sum", kSumQuery);
  CHECK(daemon.sigterm_and_wait() == 0);
}

}  // namespace

TEST_CASE_METHOD(PgDatabase,
                 "e2e: a second SIGTERM stops a daemon whose writers retry against a stopped server",
                 "[e2e][sigterm][server-gone]") {
  // The apply of a change waits on a lock the test holds; then the server
  // dies under it, and the writers retry against no server.
  HeldApply held(*this);
  DaemonProcess& daemon = held.daemon;
  cluster().stop("immediate");
  REQUIRE(log_shows(daemon, "retrying in", std::chrono::seconds(30)));

  stop_twice(daemon);
  CHECK(daemon.log().find("a second signal asked not to wait") != std::string::npos);

  cluster().start();
  restart_and_check(*this, daemon);
}

TEST_CASE_METHOD(PgDatabase,
                 "e2e: a fast shutdown of the server does not wait on an epoch the daemon cannot apply",
                 "[e2e][server-gone][fast-shutdown]") {
  // An epoch the walsender sent and the writers are applying (held by a
  // lock) when the shutdown comes: the walsender waits for its
  // confirmation, which needs the server the shutdown closes.
  HeldApply held(*this);
  DaemonProcess& daemon = held.daemon;
  const auto stopping = Clock::now();
  cluster().stop("fast");
  CHECK(Clock::now() - stopping < std::chrono::seconds(20));  // pg_ctl's own limit is 60 s

  // The daemon, not restarted, resumes with the server and ends exact.
  cluster().start();
  (void)sync_all(conninfo(), daemon.tables().size(), std::chrono::seconds(90), &daemon);
  PgConnection check(conninfo());
  check_equal(check, "public.sum", kSumQuery);
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase, "e2e: a second SIGTERM cancels a writer that waits on a lock held on a target",
                 "[e2e][sigterm][lock]") {
  HeldApply held(*this);
  DaemonProcess& daemon = held.daemon;
  stop_twice(daemon);  // before the cancel, it waited for the lock
  held.locker.exec("ROLLBACK");

  // The cut-short apply is not the table's failure; the next start reconciles.
  CHECK(query_value("SELECT status || ' ' || consecutive_errors FROM pgstream.pgs_stream_tables") ==
        "ACTIVE 0");
  restart_and_check(*this, daemon);
}
