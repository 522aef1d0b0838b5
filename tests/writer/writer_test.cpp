// The writer against a real server: every apply is checked by reading the
// target back and comparing it with the multiset the test keeps itself.
#include <catch2/catch.hpp>

#include <array>
#include <random>
#include <string>
#include <vector>

#include "pgstream/writer/apply.hpp"
#include "pgstream/writer/target.hpp"
#include "writer_testing.hpp"

using pgstream::Error;
using pgstream::ErrorKind;
using pgstream::Lsn;
using pgstream::PgConnection;
using pgstream::testing::PgDatabase;
using pgstream::writer::Action;
using pgstream::writer::advance_frontiers;
using pgstream::writer::apply_delta;
using pgstream::writer::ApplyStats;
using pgstream::writer::create_target;
using pgstream::writer::DeltaRow;
using pgstream::writer::Frontier;
using pgstream::writer::prepare_session;
using pgstream::writer::reconcile;
using pgstream::writer::TargetSpec;
using pgstream::writer::TargetState;
using pgstream::writer::testing::copy_escape;
using pgstream::writer::testing::copy_rows;
using pgstream::writer::testing::frontier_of;
using pgstream::writer::testing::Multiset;
using pgstream::writer::testing::register_target;
using pgstream::writer::testing::target_rows;

namespace {

constexpr const char* kNull = "\\N";

// Values as PostgreSQL prints them under prepare_session(), raw (unescaped).
const std::vector<std::string> kTexts = {"plain",     "tab\there", "back\\slash", "new\nline", "cr\rx",
                                         "ünïcødé 😀", "",          "\\N"};
const std::vector<std::string> kNumerics = {"0.00", "12.30", "-0.50", "9999999999.99", "1.01"};
const std::vector<std::string> kTimestamps = {"2024-01-02 03:04:05+00", "1999-12-31 23:59:59.5+00",
                                              "2030-06-15 12:00:00.123456+00"};
const std::vector<std::string> kJsons = {"{\"a\": 1, \"b\": [1, 2, 3]}", "[]", "\"str\"", "null",
                                         "{\"t\": \"tab\\there \\\"q\\\"\", \"u\": \"ü€\"}"};
const std::vector<std::string> kFloats = {
    "0.1", "1e+100", "-0", "NaN", "Infinity", "3.141592653589793", "1.0000000000000002"};

template <typename Rng>
std::string pick(Rng& rng, const std::vector<std::string>& values, bool nullable = true) {
  std::uniform_int_distribution<std::size_t> index(0, values.size() - (nullable ? 0 : 1));
  const std::size_t i = index(rng);
  return i == values.size() ? std::string(kNull) : copy_escape(values[i]);
}

TargetSpec mixed_spec() {
  TargetSpec spec;
  spec.schema = "public";
  spec.name = "Mixed \"Target\"";
  spec.columns = {{"i", "integer"},       {"t", "text"},
                  {"n", "numeric(12,2)"}, {"ts", "timestamp with time zone"},
                  {"j", "jsonb"},         {"f", "double precision"}};
  return spec;
}

Frontier at(std::uint64_t lsn) { return Frontier{Lsn(lsn), std::nullopt}; }

void apply_expected(Multiset& expected, const std::vector<DeltaRow>& delta) {
  for (const auto& row : delta) {
    expected[row.line] += row.weight;
    if (expected[row.line] == 0) expected.erase(row.line);
  }
}

std::string history_sum(PgDatabase& db, const TargetSpec& spec, const std::string& what) {
  return db.query_value(
      "SELECT coalesce(sum(" + what +
      "), 0) FROM pgstream.pgs_refresh_history WHERE pgs_id = " + std::to_string(spec.pgs_id));
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "keyless target: 200 random deltas with duplicates match the expected multiset",
                 "[writer][pg]") {
  PgConnection& conn = connection();
  prepare_session(conn);
  TargetSpec spec = mixed_spec();
  spec.pgs_id = register_target(conn, spec);
  REQUIRE(create_target(conn, spec) == TargetState::Created);

  std::mt19937_64 rng(20261126);
  std::vector<std::string> universe;
  for (int i = 0; i < 40; ++i) {
    universe.push_back((i % 7 == 0 ? std::string(kNull) : std::to_string(i % 5 - 2)) + "\t" +
                       pick(rng, kTexts) + "\t" + pick(rng, kNumerics) + "\t" + pick(rng, kTimestamps) +
                       "\t" + pick(rng, kJsons) + "\t" + pick(rng, kFloats));
  }
  Multiset expected;
  std::uint64_t lsn = 0x1000;
  constexpr int kApplies = 200;
  for (int epoch = 0; epoch < kApplies; ++epoch) {
    CAPTURE(epoch);
    std::vector<DeltaRow> delta;
    std::uniform_int_distribution<int> changes(0, 6);
    for (int c = changes(rng); c > 0; --c) {
      const std::string& line =
          universe[std::uniform_int_distribution<std::size_t>(0, universe.size() - 1)(rng)];
      const std::int64_t have = expected.contains(line) ? expected[line] : 0;
      std::int64_t pending = 0;
      for (const auto& row : delta) {
        if (row.line == line) pending += row.weight;
      }
      if (have + pending > 0 && rng() % 2 == 0) {
        delta.push_back({line, -std::uniform_int_distribution<std::int64_t>(1, have + pending)(rng)});
      } else {
        const std::int64_t copies = std::uniform_int_distribution<std::int64_t>(1, 3)(rng);
        // Sometimes unconsolidated: +copies+1 then -1.
        if (rng() % 4 == 0) {
          delta.push_back({line, copies + 1});
          delta.push_back({line, -1});
        } else {
          delta.push_back({line, copies});
        }
      }
    }
    std::int64_t net_inserted = 0;
    std::int64_t net_deleted = 0;
    {
      Multiset net;
      for (const auto& row : delta) net[row.line] += row.weight;
      for (const auto& [line, weight] : net)
        (weight > 0 ? net_inserted : net_deleted) += weight > 0 ? weight : -weight;
    }
    apply_expected(expected, delta);
    lsn += 0x10;
    const ApplyStats stats = apply_delta(conn, spec, delta, at(lsn), Action::Differential);
    CHECK(stats.inserted == net_inserted);
    CHECK(stats.deleted == net_deleted);
    CHECK(stats.updated == 0);
    REQUIRE(target_rows(conn, spec) == expected);
    REQUIRE(frontier_of(conn, spec) == Lsn(lsn).to_string());
  }
  CHECK(query_value("SELECT count(*) FROM pgstream.pgs_refresh_history WHERE pgs_id = " +
                    std::to_string(spec.pgs_id)) == std::to_string(kApplies));
  CHECK(query_value("SELECT count(DISTINCT frontier_lsn) FROM pgstream.pgs_refresh_history WHERE action = "
                    "'DIFFERENTIAL' AND status = 'SUCCESS'") == std::to_string(kApplies));
  std::int64_t total = 0;
  for (const auto& [line, copies] : expected) total += copies;
  CHECK(std::stoll(history_sum(*this, spec, "rows_inserted")) -
            std::stoll(history_sum(*this, spec, "rows_deleted")) ==
        total);
  CHECK(query_value("SELECT is_populated AND consecutive_errors = 0 AND last_refresh_at IS NOT NULL FROM "
                    "pgstream.pgs_stream_tables WHERE pgs_id = " +
                    std::to_string(spec.pgs_id)) == "t");

  SECTION("deleting rows the target does not have fails and changes nothing") {
    const std::string before = frontier_of(conn, spec);
    const std::string missing = "99\tnot there\t\\N\t\\N\t\\N\t\\N";
    const std::vector<DeltaRow> bad = {{universe[0], 1}, {missing, -1}};
    try {
      (void)apply_delta(conn, spec, bad, at(lsn + 0x100), Action::Differential);
      FAIL("a delete of a missing row was accepted");
    } catch (const Error& error) {
      CHECK(error.kind() == ErrorKind::Internal);
      CHECK_THAT(error.message(), Catch::Contains("lost rows") && Catch::Contains("Mixed"));
    }
    CHECK(target_rows(conn, spec) == expected);
    CHECK(frontier_of(conn, spec) == before);
    CHECK(query_value("SELECT 1") == "1");  // rolled back, usable
  }
  SECTION("a value the server cannot read fails the COPY, is rolled back, and the connection stays usable") {
    const std::vector<DeltaRow> bad = {{universe[1], 1}, {"not an int\tx\t\\N\t\\N\t\\N\t\\N", 1}};
    try {
      (void)apply_delta(conn, spec, bad, at(lsn + 0x100), Action::Differential);
      FAIL("an unreadable integer was accepted");
    } catch (const Error& error) {
      CHECK(error.sqlstate() == "22P02");
      CHECK(classify(error) == pgstream::ErrorAction::FailStreamTable);
    }
    CHECK(PQtransactionStatus(conn.get()) == PQTRANS_IDLE);
    CHECK(target_rows(conn, spec) == expected);
    const std::vector<DeltaRow> good = {{universe[1], 1}};
    (void)apply_delta(conn, spec, good, at(lsn + 0x200), Action::Differential);
    ++expected[universe[1]];
    CHECK(target_rows(conn, spec) == expected);
  }
  SECTION("a row with the wrong number of fields fails before touching the server") {
    const std::vector<DeltaRow> bad = {{"1\tx", 1}};
    CHECK_THROWS_AS(apply_delta(conn, spec, bad, at(lsn + 0x100), Action::Differential), Error);
    CHECK(target_rows(conn, spec) == expected);
  }
}

namespace {

TargetSpec keyed_spec() {
  TargetSpec spec;
  spec.schema = "public";
  spec.name = "totals";
  spec.columns = {{"g", "integer"}, {"label", "text"}, {"total", "numeric"}, {"cnt", "bigint"}};
  spec.key = {0, 1};
  return spec;
}

std::string keyed_line(const std::string& key, std::int64_t total, std::int64_t cnt) {
  return key + "\t" + std::to_string(total) + "\t" + std::to_string(cnt);
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "keyed target: group upserts and deletes with NULL keys, counts and TG_OP",
                 "[writer][pg]") {
  PgConnection& conn = connection();
  prepare_session(conn);
  TargetSpec spec = keyed_spec();
  spec.pgs_id = register_target(conn, spec);
  REQUIRE(create_target(conn, spec) == TargetState::Created);
  exec("CREATE TABLE ops (op text)");
  exec(
      "CREATE FUNCTION log_op() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ops VALUES (TG_OP); "
      "RETURN NULL; END $$");
  exec(
      "CREATE TRIGGER log_op AFTER INSERT OR UPDATE OR DELETE ON totals FOR EACH ROW EXECUTE FUNCTION "
      "log_op()");

  // Keys: g in {NULL, 1, 2, 3} x label in {NULL, "a", "tab\tb"}.
  std::vector<std::string> keys;
  for (const std::string g : {kNull, "1", "2", "3"}) {
    for (const std::string& label : {std::string(kNull), std::string("a"), copy_escape("tab\tb")}) {
      keys.push_back(g + "\t" + label);
    }
  }
  std::map<std::string, std::string> state;  // key -> current line
  std::mt19937_64 rng(7);
  ApplyStats totals;
  std::uint64_t lsn = 0x2000;
  for (int epoch = 0; epoch < 60; ++epoch) {
    CAPTURE(epoch);
    std::vector<DeltaRow> delta;
    ApplyStats want;
    for (const auto& key : keys) {
      if (rng() % 3 != 0) continue;
      const auto found = state.find(key);
      const bool remove = found != state.end() && rng() % 3 == 0;
      if (found != state.end()) delta.push_back({found->second, -1});
      if (remove) {
        ++want.deleted;
        state.erase(found);
        continue;
      }
      const std::string line = keyed_line(key, static_cast<std::int64_t>(rng() % 1000), epoch);
      if (found != state.end() && found->second == line) {  // unchanged: consolidates away
        delta.pop_back();
        continue;
      }
      delta.push_back({line, 1});
      ++(found != state.end() ? want.updated : want.inserted);
      state[key] = line;
    }
    std::shuffle(delta.begin(), delta.end(), rng);
    lsn += 0x10;
    CHECK(apply_delta(conn, spec, delta, at(lsn), Action::Differential) == want);
    Multiset expected;
    for (const auto& [key, line] : state) expected[line] = 1;
    REQUIRE(target_rows(conn, spec) == expected);
    CHECK(query_value("SELECT rows_inserted || ',' || rows_updated || ',' || rows_deleted FROM "
                      "pgstream.pgs_refresh_history ORDER BY refresh_id DESC LIMIT 1") ==
          std::to_string(want.inserted) + "," + std::to_string(want.updated) + "," +
              std::to_string(want.deleted));
    totals.inserted += want.inserted;
    totals.updated += want.updated;
    totals.deleted += want.deleted;
  }
  CHECK(totals.updated > 0);
  CHECK(query_value("SELECT count(*) FROM ops WHERE op = 'INSERT'") == std::to_string(totals.inserted));
  CHECK(query_value("SELECT count(*) FROM ops WHERE op = 'UPDATE'") == std::to_string(totals.updated));
  CHECK(query_value("SELECT count(*) FROM ops WHERE op = 'DELETE'") == std::to_string(totals.deleted));
  // NULL keys are one group each: the unique index treats NULLs as equal.
  CHECK(query_value("SELECT count(*) FROM pg_indexes WHERE tablename = 'totals' AND indexdef LIKE '%UNIQUE%' "
                    "AND indexdef LIKE '%NULLS NOT DISTINCT%'") == "1");

  const Multiset before = target_rows(conn, spec);
  SECTION("a weight other than -1/+1 is an internal error") {
    const std::vector<DeltaRow> bad = {{keyed_line("9\tz", 1, 1), 2}};
    try {
      (void)apply_delta(conn, spec, bad, at(lsn + 0x10), Action::Differential);
      FAIL("weight 2 on a keyed target was accepted");
    } catch (const Error& error) {
      CHECK(error.kind() == ErrorKind::Internal);
      CHECK_THAT(error.message(), Catch::Contains("totals") && Catch::Contains("weight 2"));
    }
  }
  SECTION("two added rows for one key are an internal error") {
    const std::vector<DeltaRow> bad = {{keyed_line("9\tz", 1, 1), 1}, {keyed_line("9\tz", 2, 1), 1}};
    CHECK_THROWS_WITH(apply_delta(conn, spec, bad, at(lsn + 0x10), Action::Differential),
                      Catch::Contains("two rows added for one key"));
  }
  CHECK(target_rows(conn, spec) == before);
}

TEST_CASE_METHOD(PgDatabase, "reconcile writes only the difference", "[writer][pg]") {
  PgConnection& conn = connection();
  prepare_session(conn);
  exec("CREATE TABLE ops (op text)");
  exec(
      "CREATE FUNCTION log_op() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ops VALUES (TG_OP); "
      "RETURN NULL; END $$");

  SECTION("keyless, with duplicates") {
    TargetSpec spec = mixed_spec();
    spec.name = "plain";
    spec.pgs_id = register_target(conn, spec);
    (void)create_target(conn, spec);
    const std::string a = "1\ta\t1.00\t\\N\t\\N\t0.1";
    const std::string b = "2\tb\\tc\t\\N\t2024-01-02 03:04:05+00\t[]\t\\N";
    const std::string c = "\\N\t\\N\t\\N\t\\N\t\\N\t\\N";
    const std::vector<DeltaRow> right = {{a, 2}, {b, 1}};
    (void)apply_delta(conn, spec, right, at(0x100), Action::Differential);
    // Garbage: rows the result does not have, one with a bogus hash.
    exec("INSERT INTO plain (i, t, __pgs_hash) VALUES (7, 'garbage', 0), (7, 'garbage', 0), (8, 'more', 42)");
    const std::string untouched = query_value(
        "SELECT string_agg(__pgs_row_id || ':' || xmin, ',' ORDER BY "
        "__pgs_row_id) FROM plain WHERE t IN ('a', 'b\tc')");
    exec(
        "CREATE TRIGGER log_op AFTER INSERT OR UPDATE OR DELETE ON plain FOR EACH ROW EXECUTE FUNCTION "
        "log_op()");

    const std::vector<DeltaRow> contents = {{a, 2}, {b, 1}, {c, 3}};
    const ApplyStats stats = reconcile(conn, spec, contents, at(0x200), Action::Reinitialize);
    CHECK(stats == ApplyStats{.inserted = 3, .updated = 0, .deleted = 3});
    CHECK(target_rows(conn, spec) == Multiset{{a, 2}, {b, 1}, {c, 3}});
    CHECK(query_value("SELECT string_agg(__pgs_row_id || ':' || xmin, ',' ORDER BY __pgs_row_id) FROM plain "
                      "WHERE t IN ('a', 'b\tc')") == untouched);
    CHECK(query_value("SELECT count(*) FROM ops") == "6");
    CHECK(query_value(
              "SELECT action || rows_inserted || rows_deleted FROM pgstream.pgs_refresh_history ORDER BY "
              "refresh_id DESC LIMIT 1") == "REINITIALIZE33");
    CHECK(frontier_of(conn, spec) == "0/200");

    // Fewer copies of one row, the rest unchanged.
    const std::vector<DeltaRow> fewer = {{a, 1}, {b, 1}, {c, 3}};
    CHECK(reconcile(conn, spec, fewer, at(0x300), Action::Full) ==
          ApplyStats{.inserted = 0, .updated = 0, .deleted = 1});
    CHECK(target_rows(conn, spec) == Multiset{{a, 1}, {b, 1}, {c, 3}});
    // Already equal: nothing written.
    CHECK(reconcile(conn, spec, fewer, at(0x400), Action::Full) == ApplyStats{});
    CHECK(query_value("SELECT count(*) FROM ops") == "7");
  }

  SECTION("keyed: a changed group is one update") {
    TargetSpec spec = keyed_spec();
    spec.pgs_id = register_target(conn, spec);
    (void)create_target(conn, spec);
    const std::vector<DeltaRow> first = {
        {keyed_line("1\ta", 10, 1), 1}, {keyed_line("2\ta", 20, 2), 1}, {keyed_line("\\N\t\\N", 30, 3), 1}};
    (void)apply_delta(conn, spec, first, at(0x100), Action::Differential);
    exec(
        "CREATE TRIGGER log_op AFTER INSERT OR UPDATE OR DELETE ON totals FOR EACH ROW EXECUTE FUNCTION "
        "log_op()");
    const std::vector<DeltaRow> contents = {
        {keyed_line("1\ta", 10, 1), 1}, {keyed_line("2\ta", 21, 2), 1}, {keyed_line("3\tb", 5, 1), 1}};
    CHECK(reconcile(conn, spec, contents, at(0x200), Action::Reinitialize) ==
          ApplyStats{.inserted = 1, .updated = 1, .deleted = 1});
    CHECK(target_rows(conn, spec) ==
          Multiset{{contents[0].line, 1}, {contents[1].line, 1}, {contents[2].line, 1}});
    CHECK(query_value("SELECT string_agg(op, ',' ORDER BY op) FROM ops") == "DELETE,INSERT,UPDATE");
  }
}

TEST_CASE_METHOD(PgDatabase, "create_target keeps a table of the same shape and refuses another",
                 "[writer][pg]") {
  PgConnection& conn = connection();
  prepare_session(conn);
  TargetSpec spec = keyed_spec();
  CHECK(create_target(conn, spec) == TargetState::Created);
  CHECK(create_target(conn, spec) == TargetState::Kept);

  TargetSpec other = spec;
  other.columns[2].type_sql = "numeric(12,2)";
  try {
    (void)create_target(conn, other);
    FAIL("a table of another shape was accepted");
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::Config);
    CHECK_THAT(error.message(), Catch::Contains("\"public\".\"totals\""));
    CHECK_THAT(error.detail(), Catch::Contains("\"total\" numeric") && Catch::Contains("numeric(12,2)"));
    CHECK_THAT(error.hint(), Catch::Contains("DROP TABLE \"public\".\"totals\""));
  }
  TargetSpec keyless = spec;
  keyless.key.clear();
  CHECK_THROWS_WITH(create_target(conn, keyless), Catch::Contains("exists with another shape"));

  TargetSpec reserved = spec;
  reserved.name = "other";
  reserved.columns[3].name = "__pgs_hash";
  CHECK_THROWS_AS(create_target(conn, reserved), Error);
  CHECK(query_value("SELECT to_regclass('public.other') IS NULL") == "t");

  SECTION("a key type without a btree operator class gets no unique index") {
    TargetSpec json;
    json.schema = "public";
    json.name = "by json";
    json.columns = {{"doc", "json"}, {"n", "bigint"}};
    json.key = {0};
    CHECK(create_target(conn, json) == TargetState::Created);
    CHECK(query_value("SELECT count(*) FROM pg_indexes WHERE tablename = 'by json'") ==
          "1");  // __pgs_hash only
    json.pgs_id = register_target(conn, json);
    const std::vector<DeltaRow> rows = {{"{\"a\":1}\t1", 1}, {"[1, 2]\t2", 1}};
    (void)apply_delta(conn, json, rows, at(0x10), Action::Differential);
    const std::vector<DeltaRow> change = {{"{\"a\":1}\t1", -1}, {"{\"a\":1}\t5", 1}};
    CHECK(apply_delta(conn, json, change, at(0x20), Action::Differential) ==
          ApplyStats{.inserted = 0, .updated = 1, .deleted = 0});
    CHECK(target_rows(conn, json) == Multiset{{"{\"a\":1}\t5", 1}, {"[1, 2]\t2", 1}});
  }
}

TEST_CASE_METHOD(PgDatabase, "frontiers never move backwards", "[writer][pg]") {
  PgConnection& conn = connection();
  prepare_session(conn);
  TargetSpec first = keyed_spec();
  first.pgs_id = register_target(conn, first);
  TargetSpec second = mixed_spec();
  second.pgs_id = register_target(conn, second);
  (void)create_target(conn, first);

  using Pair = std::pair<std::int64_t, Frontier>;
  const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  std::vector<Pair> forward = {{first.pgs_id, Frontier{Lsn(0x500), t0}}, {second.pgs_id, at(0x300)}};
  advance_frontiers(conn, "pgstream", forward);
  CHECK(frontier_of(conn, first) == "0/500");
  CHECK(frontier_of(conn, second) == "0/300");
  CHECK(query_value("SELECT data_timestamp FROM pgstream.pgs_stream_tables WHERE pgs_id = " +
                    std::to_string(first.pgs_id)) == "2023-11-14 22:13:20+00");

  std::vector<Pair> backward = {{first.pgs_id, Frontier{Lsn(0x400), t0 - std::chrono::hours(1)}},
                                {second.pgs_id, at(0x301)}};
  advance_frontiers(conn, "pgstream", backward);
  CHECK(frontier_of(conn, first) == "0/500");
  CHECK(frontier_of(conn, second) == "0/301");
  CHECK(query_value("SELECT data_timestamp FROM pgstream.pgs_stream_tables WHERE pgs_id = " +
                    std::to_string(first.pgs_id)) == "2023-11-14 22:13:20+00");

  // An apply at or before the frontier is a replay (a retry after a COMMIT
  // whose answer was lost): nothing changes, no history row.
  const std::vector<DeltaRow> rows = {{keyed_line("1\ta", 1, 1), 1}};
  CHECK(apply_delta(conn, first, rows, Frontier{Lsn(0x100), t0 + std::chrono::microseconds(1)},
                    Action::Differential) == ApplyStats{});
  CHECK(frontier_of(conn, first) == "0/500");
  CHECK(target_rows(conn, first).empty());
  CHECK(query_value("SELECT count(*) FROM pgstream.pgs_refresh_history") == "0");
  // Past the frontier it applies, once; the same LSN again is a replay.
  const Frontier next{Lsn(0x600), t0 + std::chrono::microseconds(1)};
  CHECK(apply_delta(conn, first, rows, next, Action::Differential).inserted == 1);
  CHECK(apply_delta(conn, first, rows, next, Action::Differential) == ApplyStats{});
  CHECK(target_rows(conn, first).size() == 1);
  CHECK(frontier_of(conn, first) == "0/600");
  CHECK(query_value("SELECT data_timestamp FROM pgstream.pgs_stream_tables WHERE pgs_id = " +
                    std::to_string(first.pgs_id)) == "2023-11-14 22:13:20.000001+00");
  CHECK(query_value("SELECT count(*) FROM pgstream.pgs_refresh_history") ==
        "1");  // none for advance_frontiers or replays
}
