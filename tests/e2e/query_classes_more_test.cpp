// More classes of TESTING.md under concurrent seeded writers: HAVING, a
// scalar aggregate over a table that empties, FULL JOIN with NULL keys,
// INTERSECT ALL / EXCEPT ALL, DISTINCT ON, a window without PARTITION BY,
// TOASTed values left unchanged by an UPDATE,
// and TRUNCATE (also followed by INSERT in one transaction).
#include <catch2/catch.hpp>
#include <cstdio>
#include <exception>
#include <thread>

#include "e2e/daemon_process.hpp"
#include "e2e/workload.hpp"
#include "support/pg_cluster.hpp"

using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

namespace {

const char* const kMoreSchema = R"sql(
  CREATE TABLE measurements (id int, sensor int, reading numeric(8,2), PRIMARY KEY (id)) PARTITION BY RANGE (id);
  CREATE TABLE measurements_lo PARTITION OF measurements FOR VALUES FROM (MINVALUE) TO (100);
  CREATE TABLE measurements_mid PARTITION OF measurements FOR VALUES FROM (100) TO (200);
  CREATE TABLE measurements_hi PARTITION OF measurements FOR VALUES FROM (200) TO (MAXVALUE);
  INSERT INTO measurements SELECT g, g % 6, (g * 1.25)::numeric(8,2) FROM generate_series(1, 250) g;
  CREATE TABLE docs (id int PRIMARY KEY, tag text, body text);
  ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
  INSERT INTO docs SELECT g, 'tag' || (g % 3), repeat(md5(g::text), 150) FROM generate_series(1, 20) g;
  CREATE TABLE flags (id int PRIMARY KEY, v int);
  INSERT INTO flags VALUES (1, 10), (2, NULL);
)sql";

std::vector<StreamTableSpec> more_tables() {
  return {
      {"public.st_group",
       "SELECT customer_id, count(*) AS n, count(note) AS n_note, sum(amount) AS total, avg(amount) AS "
       "avg_amount,\n"
       "       min(amount) AS min_amount, max(amount) AS max_amount\n"
       "FROM orders GROUP BY customer_id"},
      {"public.st2_having",
       "SELECT customer_id, count(*) AS n FROM orders GROUP BY customer_id HAVING count(*) >= 10"},
      {"public.st2_scalar", "SELECT count(*) AS n, sum(v) AS s, min(v) AS mn FROM flags"},
      {"public.st2_full",
       "SELECT c.id AS cid, c.region, o.id AS oid FROM customers c FULL JOIN orders o ON o.customer_id = "
       "c.id"},
      {"public.st2_intersect", "SELECT customer_id FROM orders INTERSECT ALL SELECT id FROM customers"},
      {"public.st2_except_all", "SELECT customer_id FROM orders EXCEPT ALL SELECT id FROM customers"},
      {"public.st2_distinct_on",
       "SELECT DISTINCT ON (customer_id) customer_id, id, amount FROM orders\n"
       "ORDER BY customer_id, amount DESC NULLS LAST, id"},
      {"public.st2_window_all",
       "SELECT id, rank() OVER (ORDER BY amount DESC NULLS LAST, id) AS r FROM orders WHERE qty = 1"},
      {"public.st2_toast", "SELECT id, tag, length(body) AS len, md5(body) AS h FROM docs"},
      {"public.st2_truncated", "SELECT kind, count(*) AS n FROM events GROUP BY kind"},
  };
}

int uniform(std::mt19937_64& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

std::string more_statement(std::mt19937_64& rng) {
  const std::string m = std::to_string(uniform(rng, 1, 320));
  const std::string d = std::to_string(uniform(rng, 1, 25));
  const std::string f = std::to_string(uniform(rng, 1, 5));
  switch (uniform(rng, 0, 13)) {
    case 0:
      return "INSERT INTO measurements VALUES (" + m + ", " + std::to_string(uniform(rng, 0, 6)) + ", " +
             std::to_string(uniform(rng, 0, 9999)) + ".5) ON CONFLICT (id) DO NOTHING";
    case 1: {  // moves the row to another partition, mostly
      const std::string to = std::to_string(uniform(rng, 1, 320));
      return "UPDATE measurements SET id = " + to + " WHERE id = " + m +
             " AND NOT EXISTS (SELECT 1 FROM measurements WHERE id = " + to + ")";
    }
    case 2:
      return "UPDATE measurements SET reading = reading + 1, sensor = " + std::to_string(uniform(rng, 0, 6)) +
             " WHERE id = " + m;
    case 3: return "DELETE FROM measurements WHERE id = " + m;
    case 4:
    case 5:  // the TOASTed body stays unchanged
      return "UPDATE docs SET tag = 'tag" + std::to_string(uniform(rng, 0, 4)) + "' WHERE id = " + d;
    case 6:
      return "UPDATE docs SET body = repeat(md5('" + std::to_string(uniform(rng, 0, 1000)) + "'), " +
             std::to_string(uniform(rng, 1, 200)) + ") WHERE id = " + d;
    case 7:
      return "INSERT INTO docs VALUES (" + d + ", NULL, repeat('x', " +
             std::to_string(uniform(rng, 0, 9000)) + ")) ON CONFLICT (id) DO NOTHING";
    case 8: return "DELETE FROM docs WHERE id = " + d;
    case 9:
      return "INSERT INTO flags VALUES (" + f + ", " +
             (uniform(rng, 0, 3) == 0 ? std::string("NULL") : std::to_string(uniform(rng, -5, 20))) +
             ") ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v";
    case 10: return uniform(rng, 0, 2) == 0 ? "DELETE FROM flags" : "DELETE FROM flags WHERE id = " + f;
    case 11: return uniform(rng, 0, 4) == 0 ? "TRUNCATE flags" : "UPDATE flags SET v = v * 2 WHERE id = " + f;
    case 12:
      if (uniform(rng, 0, 9) == 0) return "TRUNCATE events";
      [[fallthrough]];
    default: return random_statement(rng);
  }
}

bool more_transaction(PgConnection& conn, std::mt19937_64& rng) {
  try {
    conn.exec("BEGIN");
    const int statements = uniform(rng, 1, 4);
    for (int i = 0; i < statements; ++i)
      conn.exec(uniform(rng, 0, 1) == 0 ? more_statement(rng) : random_statement(rng));
    if (uniform(rng, 0, 30) == 0) {  // TRUNCATE then INSERT in one transaction
      conn.exec("TRUNCATE events");
      conn.exec("INSERT INTO events VALUES ('a', 1), ('a', 1), (NULL, 2)");
    }
    conn.exec("COMMIT");
    return true;
  } catch (const pgstream::Error&) {
    if (PQstatus(conn.get()) != CONNECTION_OK) throw;
    try {
      conn.exec("ROLLBACK");
    } catch (const pgstream::Error&) {
      if (PQstatus(conn.get()) != CONNECTION_OK) throw;
    }
    return false;
  }
}

}  // namespace

TEST_CASE_METHOD(PgDatabase,
                 "e2e: more query classes (FULL JOIN, DISTINCT ON, TOAST, TRUNCATE, ...) under writers",
                 "[e2e][query-classes-more]") {
  exec(workload_schema_sql());
  exec(kMoreSchema);
  const auto tables = more_tables();
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());
  PgConnection check(conninfo());
  check_all_equal(check, tables);

  const std::uint64_t seed = test_seed(424242);
  INFO("seed " << seed << " (PGSTREAM_E2E_SEED reproduces)");
  constexpr int kWriters = 2;
  constexpr int kRounds = 5;
  const int per_round = (scaled(1000) + kRounds - 1) / kRounds;
  int committed[kWriters] = {0, 0};
  for (int round = 0; round < kRounds; ++round) {
    std::exception_ptr failures[kWriters];
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        try {
          PgConnection conn(conninfo());
          conn.exec("SET deadlock_timeout = '20ms'");
          std::mt19937_64 rng(seed * 1000 + static_cast<std::uint64_t>(round * kWriters + w));
          for (int i = 0; i < per_round; ++i) {
            if (more_transaction(conn, rng)) ++committed[w];
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
    const std::string lsn = sync_all(conninfo(), tables.size(), std::chrono::seconds(120), &daemon);
    INFO("round " << round << ", committed " << committed[0] << " + " << committed[1] << ", synced to "
                  << lsn);
    check_all_equal(check, tables);
  }
  CHECK(committed[0] + committed[1] > kWriters * per_round * kRounds / 2);
  check_history_monotonic(check);
  CHECK(daemon.sigterm_and_wait() == 0);
}

// SPEC §5: sources may be other stream tables (a chain and a diamond), both
// updated in the same epoch.
TEST_CASE_METHOD(PgDatabase, "e2e: stream tables over stream tables (chain and diamond) on a fresh start",
                 "[e2e][chain]") {
  exec(workload_schema_sql());
  const std::vector<StreamTableSpec> tables{
      {"public.st_group",
       "SELECT customer_id, count(*) AS n, sum(amount) AS total, max(amount) AS max_amount\n"
       "FROM orders GROUP BY customer_id"},
      {"public.st2_chain", "SELECT customer_id, n, total FROM st_group WHERE n >= 8"},
      {"public.st2_diamond",
       "SELECT a.customer_id, a.n, b.max_amount FROM st2_chain a JOIN st_group b ON b.customer_id = "
       "a.customer_id"},
  };
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size(), std::chrono::seconds(30));
  PgConnection check(conninfo());
  check_all_equal(check, tables);
  std::mt19937_64 rng(test_seed(99));
  for (int i = 0; i < scaled(300); ++i) (void)run_random_transaction(check, rng);
  sync_all(conninfo(), tables.size(), std::chrono::seconds(60), &daemon);
  check_all_equal(check, tables);
  CHECK(daemon.sigterm_and_wait() == 0);
}

// SPEC §5: partitioned sources (changes of every partition count), rows
// moving between partitions.
TEST_CASE_METHOD(PgDatabase, "e2e: a partitioned source is loaded and maintained", "[e2e][partitioned]") {
  exec(kMoreSchema);
  const std::vector<StreamTableSpec> tables{
      {"public.st2_partitioned",
       "SELECT sensor, count(*) AS n, sum(reading) AS s FROM measurements GROUP BY sensor"}};
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size(), std::chrono::seconds(30));
  PgConnection check(conninfo());
  check_all_equal(check, tables);
  exec(R"sql(
    UPDATE measurements SET id = id + 1000 WHERE id BETWEEN 50 AND 60;  -- lo -> hi
    DELETE FROM measurements WHERE id BETWEEN 120 AND 130;
    UPDATE measurements SET id = id - 120 WHERE id BETWEEN 240 AND 250; -- hi -> mid
    DELETE FROM measurements WHERE id % 7 = 0;
    INSERT INTO measurements VALUES (-5, 1, 1.00), (150, 2, 2.00), (5000, 3, 3.00) ON CONFLICT DO NOTHING;
    UPDATE measurements SET sensor = sensor + 1 WHERE id % 5 = 0;
  )sql");
  sync_all(conninfo(), tables.size(), std::chrono::seconds(60), &daemon);
  check_all_equal(check, tables);
  CHECK(daemon.sigterm_and_wait() == 0);
}

// SPEC §6: faults stay local, also while the tables are loaded at start:
// one table whose initial load fails (here: a division by zero in its first
// epoch) must not fail the tables loaded after it from the same snapshot.
TEST_CASE_METHOD(PgDatabase, "e2e: a table failing its initial load does not fail the others",
                 "[e2e][faults]") {
  exec(kMoreSchema);
  const std::vector<StreamTableSpec> healthy{{"public.a_ok", "SELECT id, v FROM flags"},
                                             {"public.z_ok", "SELECT id, tag FROM docs"}};
  DaemonProcess daemon(
      *this, {healthy[0], {"public.m_boom", "SELECT id, 100 / (v - v) AS boom FROM flags"}, healthy[1]});
  daemon.start();
  PgConnection check(conninfo());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string states;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      states = check.query_value(
          "SELECT string_agg(pgs_name || ':' || status, ',' ORDER BY pgs_name) FROM "
          "pgstream.pgs_stream_tables "
          "HAVING count(*) = 3 AND count(*) FILTER (WHERE status = 'INITIALIZING') = 0");
      if (!states.empty()) break;
    } catch (const pgstream::Error&) {  // the catalog is not there yet
    }
    REQUIRE(daemon.running());
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a catalog condition
  }
  INFO("states: " << states << "\nlog:\n" << daemon.tail());
  CHECK(states.find("a_ok:ACTIVE") != std::string::npos);
  CHECK(states.find("m_boom:ERROR") != std::string::npos);
  REQUIRE(states.find("z_ok:ACTIVE") != std::string::npos);
  exec("INSERT INTO flags VALUES (3, 30); UPDATE docs SET tag = 'new' WHERE id < 5");
  sync_all(conninfo(), 2, std::chrono::seconds(30), &daemon);
  check_all_equal(check, healthy);
  CHECK(daemon.sigterm_and_wait() == 0);
}

// SPEC §3/§5: refresh_mode FULL always works: recompute and reconcile, on a
// schedule or continuously (schedule null); its frontier follows like any
// other table's, so wait_for() returns.
TEST_CASE_METHOD(PgDatabase, "e2e: refresh_mode FULL tables follow their sources", "[e2e][full-mode]") {
  exec(workload_schema_sql());
  StreamTableSpec full{
      "public.st_full_mode",
      "SELECT region, string_agg(name, ',' ORDER BY name, id) AS names FROM customers GROUP BY region",
      "FULL"};
  SECTION("continuous (schedule null)") {}
  SECTION("schedule 1s") { full.schedule = "1s"; }
  const std::vector<StreamTableSpec> tables{full};
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size(), std::chrono::seconds(30));
  PgConnection check(conninfo());
  check_all_equal(check, tables);
  exec(
      "UPDATE customers SET region = 'south' WHERE id % 3 = 0; INSERT INTO customers VALUES (100, 'zed', "
      "NULL); "
      "DELETE FROM customers WHERE id = 2");
  sync_all(conninfo(), tables.size(), std::chrono::seconds(10), &daemon);
  check_all_equal(check, tables);
  CHECK(check.query_value("SELECT count(*) > 1 FROM pgstream.pgs_refresh_history WHERE action = 'FULL'") ==
        "t");
  CHECK(daemon.sigterm_and_wait() == 0);
}
