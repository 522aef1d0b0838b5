// A stream table added while the daemon runs loads on a thread of its own:
// the other tables' frontiers keep moving during its load. (What the stream
// brings for a loading table's sources is held and fed when the load ends:
// the TRUNCATE reloads of query_classes_more_test and replica_identity_test
// exercise that under random writes.)
#include <libpq-fe.h>
#include <atomic>

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

// Polls (bounded) until `sql` returns "t".
void wait_until(PgConnection& conn, const std::string& sql, const char* what) {
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (conn.query_value(sql) != "t") {
    INFO("waiting for " << what);
    REQUIRE(Clock::now() < deadline);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Creates a stream table with the SQL API, on a thread, while a transaction
// holding an xid keeps its load waiting (a slot's snapshot waits for every
// transaction running when it starts) until release(). However the test
// ends, the transaction is let go and the thread joined.
class HeldCreate {
 public:
  HeldCreate(const std::string& conninfo, const std::string& name, const std::string& query,
             const std::string& refresh_mode = "DIFFERENTIAL")
      : holder_(conninfo) {
    holder_.exec("BEGIN");
    holder_.exec("INSERT INTO holder VALUES (1)");
    thread_ = std::thread([this, conninfo, name, query, refresh_mode] {
      try {
        PgConnection api(conninfo);
        api.exec("SELECT pgstream.create_stream_table(" + api.quote_literal(name) + ", " +
                 api.quote_literal(query) + ", refresh_mode => " + api.quote_literal(refresh_mode) + ")");
      } catch (const std::exception& error) {
        error_ = error.what();
      }
      created_ = true;
    });
  }
  HeldCreate(const HeldCreate&) = delete;
  HeldCreate& operator=(const HeldCreate&) = delete;
  ~HeldCreate() {
    try {
      if (PQtransactionStatus(holder_.get()) != PQTRANS_IDLE) holder_.exec("ROLLBACK");
    } catch (...) {  // NOLINT(bugprone-empty-catch): the connection is gone, and its transaction
    }
    if (thread_.joinable()) thread_.join();
  }

  [[nodiscard]] bool created() const { return created_.load(); }
  [[nodiscard]] int holder_pid() const { return PQbackendPID(holder_.get()); }
  // Commits the holding transaction.
  void commit() {
    if (PQtransactionStatus(holder_.get()) != PQTRANS_IDLE) holder_.exec("COMMIT");
  }
  // Commits the holding transaction and waits for the create; its error, if any.
  std::string release() {
    commit();
    thread_.join();
    return error_;
  }

 private:
  PgConnection holder_;
  std::thread thread_;
  std::atomic<bool> created_{false};
  std::string error_;
};

}  // namespace

TEST_CASE_METHOD(PgDatabase, "e2e: a table added while running loads without pausing the others",
                 "[e2e][background-load]") {
  exec("CREATE TABLE small (id int PRIMARY KEY, v int)");
  exec("INSERT INTO small SELECT g, g % 7 FROM generate_series(1, 100) g");
  exec("CREATE TABLE big (id int PRIMARY KEY, grp int, v int)");
  exec("INSERT INTO big SELECT g, g % 50, g FROM generate_series(1, 20000) g");
  exec("CREATE TABLE other (grp int PRIMARY KEY, name text)");
  exec("INSERT INTO other SELECT g, 'g' || g FROM generate_series(0, 49) g");
  exec("CREATE TABLE holder (id int)");
  const std::vector<StreamTableSpec> tables{
      {"public.t_small", "SELECT v, count(*) AS n FROM small GROUP BY v"}};
  const std::string added_query =
      "SELECT o.name, count(*) AS n, sum(b.v) AS s FROM big b JOIN other o ON o.grp = b.grp GROUP BY o.name";
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());
  PgConnection check(conninfo());

  HeldCreate create(conninfo(), "public.t_added", added_query);
  wait_until(check,
             "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE 'pgstream_load_%')",
             "the load's temporary slot");

  // While the load waits, the stream goes on: t_small follows its writes.
  exec("INSERT INTO small SELECT g, g % 5 FROM generate_series(101, 300) g");
  exec("UPDATE small SET v = v + 1 WHERE id % 3 = 0");
  exec("INSERT INTO big SELECT g, g % 50, -g FROM generate_series(20001, 21000) g");
  exec("UPDATE big SET v = v * 2 WHERE id % 7 = 0");
  const auto sync_started = Clock::now();
  CHECK(check.query_value("SELECT pgstream.wait_for(pg_current_wal_lsn(), '10s')") == "t");
  CHECK(Clock::now() - sync_started < std::chrono::seconds(5));
  CHECK_FALSE(create.created());  // still loading
  CHECK(diff_against_query(check, "public.t_small", tables[0].query).empty());

  // The daemon names the session the load waits for.
  const std::string holder = "pid " + std::to_string(create.holder_pid()) + " (";
  const auto report_deadline = Clock::now() + std::chrono::seconds(20);
  while (daemon.log().find(holder) == std::string::npos && Clock::now() < report_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(daemon.log().find("the load of public.t_added waits for transactions") != std::string::npos);
  CHECK(daemon.log().find(holder) != std::string::npos);

  CHECK(create.release().empty());
  exec("DELETE FROM big WHERE id % 11 = 0");
  exec("UPDATE big SET v = v + 1 WHERE id % 13 = 0");
  exec("UPDATE small SET v = v - 1 WHERE id % 4 = 0");

  // A FULL table whose source changes after its load's snapshot is stale:
  // it is recomputed, not taken as current. Its query takes the server a
  // second or so; an UPDATE of big commits meanwhile, after the snapshot.
  const std::string full_query =
      "SELECT a.grp, count(*) AS pairs, max(b.v) AS top FROM big a JOIN big b ON b.grp = a.grp GROUP BY "
      "a.grp";
  {
    HeldCreate full(conninfo(), "public.t_full", full_query, "FULL");
    wait_until(check,
               "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE 'pgstream_load_%')",
               "the FULL table's temporary slot");
    full.commit();
    // (Should it end before this sees it, the UPDATE comes after the load,
    // and the test checks less.)
    const auto running_deadline = Clock::now() + std::chrono::seconds(30);
    while (!full.created() && Clock::now() < running_deadline &&
           check.query_value(
               "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT a.grp%' "
               "AND state = 'active')") != "t") {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    exec("UPDATE big SET v = v + 100000 WHERE id % 17 = 0");
    CHECK(full.release().empty());
  }
  (void)sync_all(conninfo(), 3, std::chrono::seconds(60), &daemon);
  CHECK(diff_against_query(check, "public.t_added", added_query).empty());
  CHECK(diff_against_query(check, "public.t_full", full_query).empty());
  CHECK(diff_against_query(check, "public.t_small", tables[0].query).empty());
  CHECK(daemon.sigterm_and_wait() == 0);
}

TEST_CASE_METHOD(PgDatabase, "e2e: a chain loads again without pausing the other tables",
                 "[e2e][background-load][chain]") {
  exec("CREATE TABLE small (id int PRIMARY KEY, v int)");
  exec("INSERT INTO small SELECT g, g % 7 FROM generate_series(1, 100) g");
  exec("CREATE TABLE big (id int PRIMARY KEY, grp int, v int)");
  exec("INSERT INTO big SELECT g, g % 50, g FROM generate_series(1, 20000) g");
  exec("CREATE TABLE holder (id int)");
  const std::vector<StreamTableSpec> tables{
      {"public.t_small", "SELECT v, count(*) AS n FROM small GROUP BY v"},
      {"public.t_up", "SELECT grp, count(*) AS n, sum(v) AS s FROM big GROUP BY grp"}};
  // Over the upstream's target: loading it loads t_up again, from the same snapshot.
  const std::string down_query = "SELECT n, count(*) AS groups, sum(s) AS total FROM t_up GROUP BY n";
  const std::string down2_query = "SELECT grp % 5 AS bucket, sum(n) AS n FROM t_up GROUP BY grp % 5";
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());
  PgConnection check(conninfo());

  HeldCreate create(conninfo(), "public.t_down", down_query);
  wait_until(check,
             "SELECT EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name LIKE 'pgstream_load_%')",
             "the chain's temporary slot");
  // A second downstream over the loading chain takes its load over: one
  // load for the three, which answers both creates.
  HeldCreate second(conninfo(), "public.t_down2", down2_query);
  wait_until(
      check,
      "SELECT count(*) = 1 FROM pg_replication_slots WHERE slot_name LIKE 'pgstream_load_%' AND NOT EXISTS "
      "(SELECT 1 FROM pgstream.pgs_stream_tables WHERE pgs_name = 't_down2' AND status = 'ERROR') AND "
      "EXISTS (SELECT 1 FROM pgstream.pgs_stream_tables WHERE pgs_name = 't_down2')",
      "the second downstream to join the load");

  // While the chain waits, t_small follows its writes; the writes to big are
  // held for the chain.
  exec("INSERT INTO small SELECT g, g % 5 FROM generate_series(101, 300) g");
  exec("INSERT INTO big SELECT g, g % 50, -g FROM generate_series(20001, 21000) g");
  exec("UPDATE big SET v = v * 2 WHERE id % 7 = 0");
  const std::string lsn = check.query_value("SELECT pg_current_wal_lsn()");
  const auto sync_started = Clock::now();
  const std::string small_current = "SELECT frontier_lsn >= '" + lsn +
                                    "'::pg_lsn FROM pgstream.pgs_stream_tables WHERE pgs_name = 't_small'";
  while (check.query_value(small_current) != "t" && Clock::now() - sync_started < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(Clock::now() - sync_started < std::chrono::seconds(5));
  CHECK_FALSE(create.created());  // still loading
  CHECK(diff_against_query(check, "public.t_small", tables[0].query).empty());

  CHECK_FALSE(second.created());
  second.commit();  // the load waits for both
  CHECK(create.release().empty());
  CHECK(second.release().empty());
  exec("DELETE FROM big WHERE id % 11 = 0");
  exec("UPDATE big SET v = v + 1, grp = (grp + 1) % 50 WHERE id % 13 = 0");
  exec("UPDATE small SET v = v - 1 WHERE id % 4 = 0");
  (void)sync_all(conninfo(), 4, std::chrono::seconds(60), &daemon);
  CHECK(diff_against_query(check, "public.t_small", tables[0].query).empty());
  CHECK(diff_against_query(check, "public.t_up", tables[1].query).empty());
  CHECK(diff_against_query(check, "public.t_down", down_query).empty());
  CHECK(diff_against_query(check, "public.t_down2", down2_query).empty());
  CHECK(daemon.sigterm_and_wait() == 0);
}
