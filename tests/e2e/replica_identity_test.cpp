// Sources with REPLICA IDENTITY FULL: the daemon keeps no copy of their rows
// (the old row arrives whole). Checked under a random workload that also
// TRUNCATEs them (a reload from a new snapshot), UPDATEs around unchanged
// TOASTed values (taken from the old row), holds exact duplicate rows of a
// table without a key, and switches the identity away from FULL and back
// while the stream runs.
#include <catch2/catch.hpp>
#include <random>
#include <string>

#include "e2e/daemon_process.hpp"
#include "e2e/workload.hpp"
#include "support/pg_cluster.hpp"

using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

namespace {

const char* const kFullSchema = R"sql(
  CREATE TABLE items (id int PRIMARY KEY, grp int, price numeric(10,2), body text);
  ALTER TABLE items ALTER COLUMN body SET STORAGE EXTERNAL;
  ALTER TABLE items REPLICA IDENTITY FULL;
  INSERT INTO items SELECT g, g % 7, g * 1.25, CASE WHEN g % 3 = 0 THEN NULL ELSE repeat(md5(g::text), 120) END
    FROM generate_series(1, 300) g;
  CREATE TABLE tallies (k text, v int);
  ALTER TABLE tallies REPLICA IDENTITY FULL;
  INSERT INTO tallies SELECT 'k' || (g % 5), g % 4 FROM generate_series(1, 200) g;
  INSERT INTO tallies VALUES (NULL, 1), (NULL, 1), ('k1', NULL);
)sql";

std::vector<StreamTableSpec> full_tables() {
  return {
      {"public.fi_group",
       "SELECT grp, count(*) AS n, count(body) AS with_body, sum(price) AS total, min(price) AS lo, "
       "max(price) AS hi, sum(length(body)) AS body_chars FROM items GROUP BY grp"},
      {"public.fi_filter", "SELECT id, grp, md5(body) AS digest FROM items WHERE price > 100"},
      {"public.fi_keyless", "SELECT k, v FROM tallies WHERE v IS DISTINCT FROM 3"},
      {"public.fi_tally", "SELECT k, count(*) AS n, sum(v) AS s FROM tallies GROUP BY k"},
  };
}

int uniform(std::mt19937_64& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

std::string full_statement(std::mt19937_64& rng) {
  const std::string id = std::to_string(uniform(rng, 1, 400));
  const std::string k = uniform(rng, 0, 6) == 0 ? "NULL" : "'k" + std::to_string(uniform(rng, 0, 6)) + "'";
  switch (uniform(rng, 0, 11)) {
    case 0:
      return "INSERT INTO items VALUES (" + id + ", " + std::to_string(uniform(rng, 0, 8)) + ", " +
             std::to_string(uniform(rng, 0, 50000)) + " / 100.0, repeat(md5(random()::text), " +
             std::to_string(uniform(rng, 0, 150)) + ")) ON CONFLICT (id) DO NOTHING";
    case 1:  // the TOASTed body stays unchanged
      return "UPDATE items SET price = price + 1 WHERE id = " + id;
    case 2: return "UPDATE items SET grp = grp + 1 WHERE id % 11 = " + std::to_string(uniform(rng, 0, 10));
    case 3:
      return "UPDATE items SET body = repeat(md5('" + id + "'), " + std::to_string(uniform(rng, 0, 200)) +
             ") WHERE id = " + id;
    case 4:  // the key changes
      return "UPDATE items SET id = id + 1000 WHERE id = " + id +
             " AND NOT EXISTS (SELECT FROM items WHERE id = " + id + " + 1000)";
    case 5: return "DELETE FROM items WHERE id = " + id;
    case 6: return "INSERT INTO tallies VALUES (" + k + ", " + std::to_string(uniform(rng, 0, 4)) + ")";
    case 7: return "INSERT INTO tallies SELECT k, v FROM tallies WHERE k = " + k + " LIMIT 2";  // duplicates
    case 8:
      return "UPDATE tallies SET v = v + 1 WHERE ctid = (SELECT ctid FROM tallies WHERE k IS NOT DISTINCT "
             "FROM " +
             k + " LIMIT 1)";
    case 9: return "DELETE FROM tallies WHERE ctid = (SELECT ctid FROM tallies WHERE v = 1 LIMIT 1)";
    case 10: return uniform(rng, 0, 5) == 0 ? "TRUNCATE tallies" : "DELETE FROM tallies WHERE v = 0";
    default:
      return uniform(rng, 0, 29) == 0 ? "TRUNCATE items" : "UPDATE items SET price = NULL WHERE id = " + id;
  }
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "e2e: REPLICA IDENTITY FULL sources are followed without a copy",
                 "[e2e][replica-identity]") {
  exec(kFullSchema);
  const auto tables = full_tables();
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(tables.size());
  PgConnection check(conninfo());
  check_all_equal(check, tables);

  const std::uint64_t seed = test_seed(8086);
  INFO("seed " << seed << " (PGSTREAM_E2E_SEED reproduces)");
  std::mt19937_64 rng(seed);
  PgConnection writer(conninfo());
  constexpr int kRounds = 4;
  const int per_round = scaled(150);
  for (int round = 0; round < kRounds; ++round) {
    // Round 1 runs with the identity changed away from FULL (the daemon
    // must reload what it no longer can follow), round 2 with FULL again.
    if (round == 1) exec("ALTER TABLE items REPLICA IDENTITY DEFAULT");
    if (round == 2) exec("ALTER TABLE items REPLICA IDENTITY FULL");
    for (int i = 0; i < per_round; ++i) {
      writer.exec("BEGIN");
      const int statements = uniform(rng, 1, 3);
      for (int s = 0; s < statements; ++s) writer.exec(full_statement(rng));
      writer.exec("COMMIT");
    }
    const std::string lsn = sync_all(conninfo(), tables.size(), std::chrono::seconds(120), &daemon);
    INFO("round " << round << ", synced to " << lsn);
    check_all_equal(check, tables);
  }
  // The TRUNCATEs were absorbed by reloads (REINITIALIZE beyond the first load).
  CHECK(check.query_value(
            "SELECT count(*) > 2 FROM pgstream.pgs_refresh_history WHERE action = 'REINITIALIZE'") == "t");
  check_history_monotonic(check);
  CHECK(daemon.sigterm_and_wait() == 0);
}
