// Integration tests against a real PostgreSQL 15: every pgoutput message
// produced from real SQL, replica identities, TOAST, streamed transactions
// (committed, rolled back, savepoint rolled back), logical messages, DDL
// mid-stream, progress confirmation, and a server crash mid-stream.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "pgstream/engine/datum.hpp"
#include "pgstream/replication/replication_connection.hpp"
#include "pgstream/replication/row_conversion.hpp"
#include "stream_probe.hpp"
#include "support/pg_cluster.hpp"

using namespace pgstream;
using namespace pgstream::replication;
using namespace pgstream::replication::testing;
using pgstream::testing::PgDatabase;

namespace {

void create_slot(const PgDatabase& db, const std::string& slot) {
  ReplicationConnection connection(db.conninfo());
  (void)connection.create_slot(slot, SlotLifetime::Permanent);
}

// Transactions that carried rows or events (not only sync markers).
std::vector<ReceivedTransaction> data_transactions(const StreamProbe& probe) {
  std::vector<ReceivedTransaction> out;
  for (const auto& t : probe.transactions) {
    if (!t.changes.empty() || t.rows != 0) out.push_back(t);
  }
  return out;
}

std::vector<std::string> all_changes(const StreamProbe& probe) {
  std::vector<std::string> out;
  for (const auto& t : probe.transactions) out.insert(out.end(), t.changes.begin(), t.changes.end());
  return out;
}

Lsn slot_confirmed_flush(PgDatabase& db, const std::string& slot) {
  const auto text =
      db.query_value("SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
  return Lsn::parse(text).value_or(Lsn());
}

Lsn current_wal_lsn(PgDatabase& db) { return *Lsn::parse(db.query_value("SELECT pg_current_wal_lsn()")); }

// Sets a server parameter for the scope of a test and resets it after.
class ServerSetting {
 public:
  ServerSetting(PgDatabase& db, std::string name, const std::string& value)
      : db_(db), name_(std::move(name)) {
    db_.exec("ALTER SYSTEM SET " + name_ + " = '" + value + "'");
    db_.exec("SELECT pg_reload_conf()");
  }
  ServerSetting(const ServerSetting&) = delete;
  ServerSetting& operator=(const ServerSetting&) = delete;
  ~ServerSetting() {
    try {
      db_.exec("ALTER SYSTEM RESET " + name_);
      db_.exec("SELECT pg_reload_conf()");
    } catch (const std::exception&) {
    }
  }

 private:
  PgDatabase& db_;
  std::string name_;
};

}  // namespace

TEST_CASE_METHOD(PgDatabase, "stream: DML under the four replica identities, truncate, two publications",
                 "[pg]") {
  exec(R"sql(
    CREATE TABLE t_default (id int PRIMARY KEY, v text);
    CREATE TABLE t_full (id int, v text);
    ALTER TABLE t_full REPLICA IDENTITY FULL;
    CREATE TABLE t_index (id int NOT NULL, code text NOT NULL, v text);
    CREATE UNIQUE INDEX t_index_code ON t_index (code);
    ALTER TABLE t_index REPLICA IDENTITY USING INDEX t_index_code;
    CREATE TABLE t_nothing (id int, v text);
    ALTER TABLE t_nothing REPLICA IDENTITY NOTHING;
    CREATE PUBLICATION pub FOR TABLE t_default, t_full, t_index;
    CREATE PUBLICATION pub_ins FOR TABLE t_nothing WITH (publish = 'insert, truncate');
  )sql");
  create_slot(*this, "s");
  exec(R"sql(
    BEGIN;
    INSERT INTO t_default VALUES (1, 'a'), (2, 'b');
    UPDATE t_default SET v = 'a2' WHERE id = 1;
    UPDATE t_default SET id = 3 WHERE id = 2;
    DELETE FROM t_default WHERE id = 1;
    COMMIT;
  )sql");
  exec("INSERT INTO t_full VALUES (1, 'x')");
  exec("UPDATE t_full SET v = 'y'");
  exec("DELETE FROM t_full");
  exec("INSERT INTO t_index VALUES (1, 'c1', 'v')");
  exec("UPDATE t_index SET v = 'w'");
  exec("UPDATE t_index SET code = 'c2'");
  exec("DELETE FROM t_index");
  exec("INSERT INTO t_nothing VALUES (1, 'n')");
  exec("TRUNCATE t_default, t_full RESTART IDENTITY CASCADE");
  exec("TRUNCATE t_index");

  StreamProbe probe(*this, "s", {"pub", "pub_ins"});
  REQUIRE(probe.sync(*this));
  const auto txns = data_transactions(probe);
  REQUIRE(txns.size() == 11);
  CHECK(txns[0].changes == std::vector<std::string>{
                               "S public.t_default 1 d id:23*,v:25",
                               "I public.t_default: 1,a",
                               "I public.t_default: 2,b",
                               "U public.t_default: 1,a2",
                               "U public.t_default: K(2,NULL)>3,b",
                               "D public.t_default: K(1,NULL)",
                           });
  CHECK(txns[1].changes ==
        std::vector<std::string>{"S public.t_full 1 f id:23*,v:25*", "I public.t_full: 1,x"});
  CHECK(txns[2].changes == std::vector<std::string>{"U public.t_full: O(1,x)>1,y"});
  CHECK(txns[3].changes == std::vector<std::string>{"D public.t_full: O(1,y)"});
  CHECK(txns[4].changes ==
        std::vector<std::string>{"S public.t_index 1 i id:23,code:25*,v:25", "I public.t_index: 1,c1,v"});
  CHECK(txns[5].changes == std::vector<std::string>{"U public.t_index: 1,c1,w"});
  CHECK(txns[6].changes == std::vector<std::string>{"U public.t_index: K(NULL,c1,NULL)>1,c2,w"});
  CHECK(txns[7].changes == std::vector<std::string>{"D public.t_index: K(NULL,c2,NULL)"});
  CHECK(txns[8].changes ==
        std::vector<std::string>{"S public.t_nothing 1 n id:23,v:25", "I public.t_nothing: 1,n"});
  auto truncates = txns[9].changes;
  std::sort(truncates.begin(), truncates.end());
  CHECK(truncates == std::vector<std::string>{"T public.t_default/3", "T public.t_full/3"});
  CHECK(txns[10].changes == std::vector<std::string>{"T public.t_index/0"});
  for (std::size_t i = 1; i < txns.size(); ++i) CHECK(txns[i - 1].end_lsn <= txns[i].commit_lsn);
  CHECK_FALSE(probe.error);
}

TEST_CASE_METHOD(PgDatabase, "stream: an UPDATE leaving a >8 kB TOASTed value unchanged sends it as 'u'",
                 "[pg]") {
  exec(R"sql(
    CREATE TABLE toasty (id int PRIMARY KEY, big text, n int);
    ALTER TABLE toasty ALTER COLUMN big SET STORAGE EXTERNAL;
    CREATE PUBLICATION pub FOR TABLE toasty;
  )sql");
  create_slot(*this, "s");
  exec("INSERT INTO toasty SELECT 1, string_agg(md5(i::text), '') , 0 FROM generate_series(1, 600) i");
  exec("UPDATE toasty SET n = 1");
  const std::string big = query_value("SELECT big FROM toasty");
  REQUIRE(big.size() > 8192);
  StreamProbe probe(*this, "s", {"pub"});
  // As engine rows: the unchanged value comes from the row's previous version.
  const TypeMap types;
  engine::RowPacker inserted;
  engine::RowPacker updated;
  probe.hook = [&](const ChangeBatch& batch) {
    for (const Change& c : batch.changes()) {
      if (c.kind == ChangeKind::Insert)
        REQUIRE(pack_row(batch.new_tuple(c), types, {}, inserted) == PackResult::Packed);
      if (c.kind != ChangeKind::Update) continue;
      REQUIRE(pack_row(batch.new_tuple(c), types, {}, updated) == PackResult::NeedsPrevious);
      CHECK(updated.size() == 0);
      REQUIRE(pack_row(batch.new_tuple(c), types, inserted.row(), updated) == PackResult::Packed);
    }
  };
  REQUIRE(probe.sync(*this));
  const auto txns = data_transactions(probe);
  REQUIRE(txns.size() == 2);
  CHECK(txns[0].changes[1] == "I public.toasty: 1," + big + ",0");
  CHECK(txns[1].changes == std::vector<std::string>{"U public.toasty: 1,TOAST,1"});
  REQUIRE(updated.row().arity() == 3);
  CHECK(updated.row().at(1).kind() == engine::DatumKind::Text);
  std::string text;
  engine::format_datum(updated.row().at(1), text);
  CHECK(text == big);
  CHECK(updated.row().at(2).kind() == engine::DatumKind::Int4);
}

TEST_CASE_METHOD(PgDatabase, "stream: logical messages, transactional and not", "[pg]") {
  exec("CREATE TABLE m (id int PRIMARY KEY); CREATE PUBLICATION pub FOR TABLE m");
  create_slot(*this, "s");
  exec("SELECT pg_logical_emit_message(false, 'nt', 'outside')");
  exec("BEGIN; INSERT INTO m VALUES (1); SELECT pg_logical_emit_message(true, 'ddl', 'inside'); COMMIT");
  exec("BEGIN; SELECT pg_logical_emit_message(true, 'ddl', 'rolled back'); ROLLBACK");
  StreamProbe probe(*this, "s", {"pub"});
  REQUIRE(probe.sync(*this));
  CHECK(probe.standalone_messages == std::vector<std::string>{"nt=outside"});
  CHECK(all_changes(probe) ==
        std::vector<std::string>{"S public.m 1 d id:23*", "I public.m: 1", "M ddl=inside"});
}

TEST_CASE_METHOD(PgDatabase, "stream: ADD COLUMN, DROP COLUMN, ALTER TYPE and RENAME mid-stream", "[pg]") {
  exec("CREATE TABLE d (id int PRIMARY KEY, a int); CREATE PUBLICATION pub FOR TABLE d");
  create_slot(*this, "s");
  exec("INSERT INTO d VALUES (1, 1)");
  exec("ALTER TABLE d ADD COLUMN b text");
  exec("INSERT INTO d VALUES (2, 2, 'x')");
  exec("ALTER TABLE d DROP COLUMN a");
  exec("INSERT INTO d VALUES (3, 'y')");
  exec("ALTER TABLE d ALTER COLUMN b TYPE varchar(10)");
  exec("INSERT INTO d VALUES (4, 'z')");
  exec("ALTER TABLE d RENAME TO d2");
  exec("INSERT INTO d2 VALUES (5, 'w')");
  StreamProbe probe(*this, "s", {"pub"});
  REQUIRE(probe.sync(*this));
  CHECK(all_changes(probe) == std::vector<std::string>{
                                  "S public.d 1 d id:23*,a:23",
                                  "I public.d: 1,1",
                                  "S public.d 2 d id:23*,a:23,b:25",
                                  "I public.d: 2,2,x",
                                  "S public.d 4 d id:23*,b:25",
                                  "I public.d: 3,y",
                                  "S public.d 8 d id:23*,b:1043",
                                  "I public.d: 4,z",
                                  "S public.d2 32 d id:23*,b:1043",
                                  "I public.d2: 5,w",
                              });
}

TEST_CASE_METHOD(PgDatabase, "stream: every listed type round-trips exactly, and NULL in each", "[pg]") {
  exec(R"sql(
    CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
    CREATE DOMAIN posint AS int CHECK (VALUE > 0);
    CREATE TABLE types (
      id int PRIMARY KEY, c_int2 int2, c_int4 int4, c_int8 int8, c_float4 float4, c_float8 float8,
      c_numeric numeric, c_bool bool, c_text text, c_varchar varchar(20), c_bpchar char(8), c_bytea bytea,
      c_date date, c_time time, c_timestamp timestamp, c_timestamptz timestamptz, c_interval interval,
      c_uuid uuid, c_json json, c_jsonb jsonb, c_int_arr int4[], c_text_arr text[], c_enum mood, c_domain posint);
    CREATE PUBLICATION pub FOR TABLE types;
  )sql");
  create_slot(*this, "s");
  exec(R"sql(
    INSERT INTO types VALUES
      (1, -32768, 2147483647, -9223372036854775808, 1.17549435e-38, 2.2250738585072014e-308,
       -123456789012345678901234567890.000000000000000000001, true, 'héllo, "wörld"\n', 'vc', 'pad',
       '\x00ff10'::bytea, '4713-01-01 BC', '23:59:59.999999', '2000-02-29 12:34:56.789', '1999-12-31 23:59:59.5+05:30',
       '1 year 2 mons -3 days 04:05:06.7', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.50, null]}',
       '{"b": {"c": "d"}, "a": 1e3}', '{1,NULL,-3}', '{"x y","",NULL,"q\"uote"}', 'happy', 42),
      (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL),
      (3, 0, 0, 0, 'NaN', '-Infinity', 'NaN', false, '', '', '', '', 'infinity', '00:00', '-infinity',
       'infinity', '0', '00000000-0000-0000-0000-000000000000', '[]', '[]', '{}', '{}', 'sad', 1),
      (4, 1, -1, 1, 3.14159, 0.1, 0.1, true, repeat('z', 3000), 'x', 'abcdefgh', '\x'::bytea, '2024-02-29',
       '12:00', '1970-01-01', 'epoch', '-178000000 years', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', 'null',
       '"s"', '{{1,2},{3,4}}', '{{a,b},{c,d}}', 'ok', 2147483647)
  )sql");
  StreamProbe probe(*this, "s", {"pub"});
  probe.keep_changes = false;
  std::map<int, std::vector<std::pair<ColumnKind, std::string>>> received;
  std::map<int, engine::RowPacker> packed;
  const TypeMap domain_types = TypeMap::load(connection());
  std::vector<std::uint32_t> type_oids;
  probe.hook = [&](const ChangeBatch& batch) {
    for (const Change& c : batch.changes()) {
      if (c.kind != ChangeKind::Insert) continue;
      const TupleView row = batch.new_tuple(c);
      const int id = std::stoi(std::string(row[0].bytes));
      REQUIRE(pack_row(row, domain_types, engine::RowRef(), packed[id]) == PackResult::Packed);
      auto& out = received[id];
      type_oids.clear();
      for (std::size_t i = 0; i < row.size(); ++i) {
        out.emplace_back(row[i].kind, std::string(row[i].bytes));
        type_oids.push_back(row[i].type_oid);
      }
    }
  };
  REQUIRE(probe.sync(*this));
  REQUIRE(received.size() == 4);

  // libpq's text results are the types' own output functions, as pgoutput's are.
  PgResult expected = exec("SELECT * FROM types ORDER BY id");
  REQUIRE(PQntuples(expected.get()) == 4);
  for (int row = 0; row < 4; ++row) {
    const auto& got = received[row + 1];
    REQUIRE(got.size() == 24);
    for (int col = 0; col < 24; ++col) {
      INFO("row " << row + 1 << " column " << col);
      if (PQgetisnull(expected.get(), row, col) != 0) {
        CHECK(got[col].first == ColumnKind::Null);
      } else {
        CHECK(got[col].first == ColumnKind::Text);
        CHECK(got[col].second == PQgetvalue(expected.get(), row, col));
      }
    }
  }
  // As engine datums: text -> datum -> text gives the server's text back.
  for (int row = 0; row < 4; ++row) {
    INFO("row " << row + 1);
    REQUIRE(packed.count(row + 1) == 1);
    const engine::RowRef datums = packed[row + 1].row();
    REQUIRE(datums.arity() == 24);
    for (int col = 0; col < 24; ++col) {
      INFO("column " << col << " (" << PQfname(expected.get(), col) << ")");
      const engine::DatumRef datum = datums.at(static_cast<std::size_t>(col));
      if (PQgetisnull(expected.get(), row, col) != 0) {
        CHECK(datum.kind() == engine::DatumKind::Null);
        continue;
      }
      std::string text;
      engine::format_datum(datum, text);
      std::string server_text = PQgetvalue(expected.get(), row, col);
      if (datum.kind() == engine::DatumKind::Bpchar) {
        // char(n)'s padding is no part of its value in PostgreSQL (length(), =, ORDER BY ignore
        // it) and the engine keeps the value unpadded; the column's typmod pads it on output.
        server_text.erase(server_text.find_last_not_of(' ') + 1);
      }
      CHECK(text == server_text);
    }
  }
  CHECK(packed[1].row().at(22).kind() == engine::DatumKind::PassThrough);  // the enum
  CHECK(packed[1].row().at(23).kind() == engine::DatumKind::Int4);         // the domain, as its base type

  PgResult oids = exec(
      "SELECT atttypid FROM pg_attribute WHERE attrelid = 'types'::regclass AND attnum > 0 ORDER BY attnum");
  for (int i = 0; i < PQntuples(oids.get()); ++i) {
    CHECK(type_oids[static_cast<std::size_t>(i)] == std::stoul(PQgetvalue(oids.get(), i, 0)));
  }
  const std::uint32_t mood = std::stoul(query_value("SELECT 'mood'::regtype::oid"));
  const TypeInfo* type = probe.stream.decoder().relations().find_type(mood);
  REQUIRE(type != nullptr);
  CHECK(type->name == "mood");
  CHECK(type->schema == "public");
}

TEST_CASE_METHOD(PgDatabase,
                 "stream: 200k-row streamed transactions committed, rolled back, savepoint rolled back",
                 "[pg][streamed]") {
  ServerSetting work_mem(*this, "logical_decoding_work_mem", "64kB");
  exec("CREATE TABLE big (id int PRIMARY KEY, v text); CREATE PUBLICATION pub FOR TABLE big");
  create_slot(*this, "s");
  StreamProbe probe(*this, "s", {"pub"}, [](StreamOptions& o) {
    o.decoder.spool.memory_limit = std::size_t{1} << 20U;
    o.decoder.max_part_changes = 50'000;
  });
  probe.keep_changes = false;

  exec("INSERT INTO big SELECT g, 'row ' || g FROM generate_series(1, 200000) g");
  exec("BEGIN; INSERT INTO big SELECT g, 'gone ' || g FROM generate_series(200001, 400000) g; ROLLBACK");
  exec(R"sql(
    BEGIN;
    INSERT INTO big SELECT g, 'kept' FROM generate_series(400001, 500000) g;
    SAVEPOINT s1;
    INSERT INTO big SELECT g, 'undone' FROM generate_series(500001, 600000) g;
    ROLLBACK TO SAVEPOINT s1;
    INSERT INTO big SELECT g, 'after' FROM generate_series(600001, 600010) g;
    COMMIT;
  )sql");
  REQUIRE(probe.sync(*this, std::chrono::seconds(120)));
  const auto txns = data_transactions(probe);
  REQUIRE(txns.size() == 2);
  CHECK(txns[0].streamed);
  CHECK(txns[0].rows == 200000);
  CHECK(txns[0].first_column_sum == std::int64_t{200000} * 200001 / 2);
  CHECK(txns[1].streamed);
  CHECK(txns[1].rows == 100010);
  std::int64_t expected = 0;
  for (std::int64_t g = 400001; g <= 500000; ++g) expected += g;
  for (std::int64_t g = 600001; g <= 600010; ++g) expected += g;
  CHECK(txns[1].first_column_sum == expected);
  const auto& stats = probe.stream.decoder().stats();
  CHECK(stats.aborted_transactions >= 1);
  const auto& spool = probe.stream.decoder().spool_stats();
  CHECK(spool.spilled_bytes > 0);
  CHECK(spool.peak_memory_bytes <= (std::size_t{1} << 20U) + 65536);
  CHECK(spool.open_transactions == 0);
}

TEST_CASE_METHOD(PgDatabase, "stream: a server crash mid-stream loses nothing and doubles nothing",
                 "[pg][restart]") {
  exec("CREATE TABLE r (id int PRIMARY KEY); CREATE PUBLICATION pub FOR TABLE r");
  create_slot(*this, "s");
  StreamProbe probe(*this, "s", {"pub"}, [](StreamOptions& o) { o.decoder.max_part_changes = 1000; });
  probe.keep_changes = false;
  probe.keep_ids = true;
  for (int i = 1; i <= 30; ++i) exec("INSERT INTO r VALUES (" + std::to_string(i) + ")");
  REQUIRE(probe.sync(*this));
  for (int i = 31; i <= 60; ++i) exec("INSERT INTO r VALUES (" + std::to_string(i) + ")");
  exec("INSERT INTO r SELECT g FROM generate_series(61, 20060) g");
  // Crash the server while the big transaction is half delivered: after its
  // first part, before its last.
  bool crashed = false;
  probe.hook = [&](const ChangeBatch& batch) {
    if (crashed || batch.last_part() || batch.row_count() == 0) return;
    crashed = true;
    cluster().restart("immediate");
  };
  REQUIRE(probe.run_until([&] { return crashed; }));
  try {
    exec("SELECT 1");  // the test's own connection died with the server
  } catch (const Error&) {
  }
  for (int i = 20061; i <= 20090; ++i) exec("INSERT INTO r VALUES (" + std::to_string(i) + ")");
  REQUIRE(probe.sync(*this));
  CHECK(probe.disconnects >= 1);
  CHECK(probe.resets == 1);
  std::vector<std::int64_t> ids;
  for (const auto& t : probe.transactions)
    ids.insert(ids.end(), t.inserted_ids.begin(), t.inserted_ids.end());
  std::sort(ids.begin(), ids.end());
  std::vector<std::int64_t> expected(20090);
  std::iota(expected.begin(), expected.end(), 1);
  CHECK(ids == expected);

  // A new consumer resuming from the slot sees nothing that was confirmed.
  probe.stream.stop();
  StreamProbe next(*this, "s", {"pub"});
  next.keep_ids = true;
  exec("INSERT INTO r VALUES (30000)");
  REQUIRE(next.sync(*this));
  std::vector<std::int64_t> later;
  for (const auto& t : next.transactions)
    later.insert(later.end(), t.inserted_ids.begin(), t.inserted_ids.end());
  CHECK(later == std::vector<std::int64_t>{30000});
}

TEST_CASE_METHOD(PgDatabase, "stream: flush never passes the confirmed LSN; an idle slot still advances",
                 "[pg]") {
  exec(
      "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE unpublished (id int); CREATE PUBLICATION pub FOR "
      "TABLE p");
  create_slot(*this, "s");
  StreamProbe probe(*this, "s", {"pub"});
  probe.auto_confirm = false;
  exec("INSERT INTO p VALUES (1)");
  REQUIRE(probe.sync(*this));
  const Lsn first_end = data_transactions(probe).at(0).end_lsn;
  const Lsn before = slot_confirmed_flush(*this, "s");
  probe.run_until([] { return false; }, std::chrono::seconds(2));
  CHECK(slot_confirmed_flush(*this, "s") == before);
  CHECK(before < first_end);

  probe.stream.confirm(probe.transactions.back().end_lsn);
  REQUIRE(
      probe.run_until([&] { return slot_confirmed_flush(*this, "s") >= probe.transactions.back().end_lsn; },
                      std::chrono::seconds(20)));
  // Changes nobody subscribes to: the slot advances past them anyway.
  exec("INSERT INTO unpublished SELECT g FROM generate_series(1, 1000) g");
  const Lsn target = current_wal_lsn(*this);
  CHECK(
      probe.run_until([&] { return slot_confirmed_flush(*this, "s") >= target; }, std::chrono::seconds(30)));
}

TEST_CASE_METHOD(PgDatabase,
                 "replication: exported snapshot, COPY, then the stream from the consistent point", "[pg]") {
  exec("CREATE TABLE snap (id int PRIMARY KEY, v text); CREATE PUBLICATION pub FOR TABLE snap");
  exec("INSERT INTO snap SELECT g, 'v' || g FROM generate_series(1, 10) g");
  ReplicationConnection connection(conninfo());
  const SystemIdentity identity = connection.identify_system();
  CHECK(identity.dbname == db_name());
  CHECK(identity.timeline >= 1);
  CHECK(identity.xlog_pos.is_valid());
  const CreatedSlot slot = connection.create_slot("s", SlotLifetime::Permanent);
  CHECK(slot.slot_name == "s");
  CHECK(slot.consistent_point.is_valid());
  CHECK_FALSE(slot.snapshot_name.empty());
  exec("INSERT INTO snap SELECT g, 'v' || g FROM generate_series(11, 20) g");

  SnapshotReader reader(conninfo(), slot.snapshot_name);
  std::vector<std::string> rows;
  const auto count = reader.copy_table({"public", "snap"}, {"id", "v"},
                                       [&](std::string_view row) { rows.emplace_back(row); });
  reader.finish();
  CHECK(count == 10);
  REQUIRE(rows.size() == 10);
  CHECK(rows[0] == "1\tv1");
  CHECK(rows[9] == "10\tv10");

  StreamProbe probe(*this, "s", {"pub"}, [&](StreamOptions& o) { o.start_lsn = slot.consistent_point; });
  probe.keep_ids = true;
  REQUIRE(probe.sync(*this));
  std::vector<std::int64_t> ids;
  for (const auto& t : probe.transactions)
    ids.insert(ids.end(), t.inserted_ids.begin(), t.inserted_ids.end());
  std::vector<std::int64_t> expected(10);
  std::iota(expected.begin(), expected.end(), 11);
  CHECK(ids == expected);
}

TEST_CASE_METHOD(PgDatabase, "replication: temporary slots, drop, slot lookup", "[pg]") {
  {
    ReplicationConnection connection(conninfo());
    const CreatedSlot temp = connection.create_slot("temp_slot", SlotLifetime::Temporary);
    CHECK(temp.consistent_point.is_valid());
    const auto info = connection.find_slot("temp_slot");
    REQUIRE(info);
    CHECK(info->plugin == "pgoutput");
    CHECK_FALSE(info->active_pid.empty());
  }
  ReplicationConnection connection(conninfo());
  for (int i = 0; i < 100 && connection.find_slot("temp_slot"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK_FALSE(connection.find_slot("temp_slot"));
  CHECK_THROWS_WITH(connection.create_slot("Odd \"Name\"", SlotLifetime::Permanent),
                    Catch::Contains("invalid replication slot name"));
  (void)connection.create_slot("odd_name_1", SlotLifetime::Permanent);
  CHECK(connection.find_slot("odd_name_1"));
  connection.drop_slot("odd_name_1");
  CHECK_FALSE(connection.find_slot("odd_name_1"));
}

TEST_CASE_METHOD(PgDatabase, "replication: publications are created and extended idempotently, names quoted",
                 "[pg]") {
  exec(R"sql(CREATE SCHEMA "My Schema"; CREATE TABLE "My Schema"."T 1" (id int); CREATE TABLE u (id int);
             CREATE TABLE w (id int))sql");
  const std::string pub = "pub \"x\"; DROP TABLE u; --";
  ensure_publication(connection(), pub, {{"My Schema", "T 1"}, {"public", "u"}});
  ensure_publication(connection(), pub, {{"My Schema", "T 1"}, {"public", "u"}});
  ensure_publication(connection(), pub, {{"public", "w"}, {"public", "u"}});
  CHECK(query_value("SELECT string_agg(schemaname || '.' || tablename, ',' ORDER BY tablename) FROM "
                    "pg_publication_tables WHERE pubname = " +
                    connection().quote_literal(pub)) == "My Schema.T 1,public.u,public.w");
  CHECK(query_value("SELECT count(*) FROM pg_tables WHERE tablename = 'u'") == "1");
}

TEST_CASE_METHOD(PgDatabase, "replication: distinct errors for a missing slot and a missing publication",
                 "[pg]") {
  exec("CREATE TABLE e (id int); CREATE PUBLICATION pub FOR TABLE e");
  {
    StreamProbe probe(*this, "no_such_slot", {"pub"});
    CHECK_FALSE(probe.run_until([] { return false; }, std::chrono::seconds(10)));
    REQUIRE(probe.error);
    CHECK(probe.error->message() == "replication slot \"no_such_slot\" does not exist");
    CHECK(probe.error->sqlstate() == "42704");
    CHECK_THAT(probe.error->hint(), Catch::Contains("postgres.slot"));
  }
  create_slot(*this, "s");
  StreamProbe probe(*this, "s", {"pub", "no_such_pub"});
  CHECK_FALSE(probe.run_until([] { return false; }, std::chrono::seconds(10)));
  REQUIRE(probe.error);
  CHECK(probe.error->message() == "publication \"no_such_pub\" does not exist");
  CHECK_THAT(probe.error->hint(), Catch::Contains("CREATE PUBLICATION"));
}

TEST_CASE_METHOD(PgDatabase, "replication: a role without REPLICATION gets an error naming the fix", "[pg]") {
  const std::string role = "norepl_" + db_name();
  exec("CREATE ROLE " + role + " LOGIN");
  try {
    ReplicationConnection connection(conninfo() + " user=" + role);
    FAIL("connected without REPLICATION");
  } catch (const Error& e) {
    CHECK(e.sqlstate() == "42501");
    CHECK_THAT(e.hint(), Catch::Contains("ALTER ROLE") && Catch::Contains("REPLICATION"));
  }
  exec("DROP ROLE " + role);
}

TEST_CASE_METHOD(PgDatabase, "replication: an invalidated slot (wal_status lost) is a distinct error",
                 "[pg]") {
  exec("CREATE TABLE junk (v text); CREATE PUBLICATION pub FOR TABLE junk");
  create_slot(*this, "s");
  {
    ServerSetting keep(*this, "max_slot_wal_keep_size", "1MB");
    for (int i = 0;
         i < 4 && query_value("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 's'") != "lost";
         ++i) {
      for (int j = 0; j < 3; ++j) {
        exec("INSERT INTO junk VALUES ('x'); SELECT pg_switch_wal()");
      }
      exec("CHECKPOINT");
    }
    REQUIRE(query_value("SELECT wal_status FROM pg_replication_slots WHERE slot_name = 's'") == "lost");
  }
  StreamProbe probe(*this, "s", {"pub"});
  CHECK_FALSE(probe.run_until([] { return false; }, std::chrono::seconds(10)));
  REQUIRE(probe.error);
  CHECK(probe.error->message() == "replication slot \"s\" has been invalidated");
  CHECK_THAT(probe.error->hint(), Catch::Contains("pg_drop_replication_slot"));
}

TEST_CASE("replication: server errors map to the distinct operator errors", "[errors]") {
  const auto mapped = [](const std::string& message) {
    return diagnose_replication_error(Error(ErrorKind::Database, message, {.sqlstate = "55000"}), "s");
  };
  CHECK(mapped("logical decoding requires wal_level >= logical").hint().find("wal_level = logical") !=
        std::string::npos);
  CHECK(mapped("replication slot \"s\" does not exist").sqlstate() == "42704");
  CHECK(mapped("can no longer get changes from replication slot \"s\"").message() ==
        "replication slot \"s\" has been invalidated");
  CHECK(mapped("publication \"p\" does not exist").message() == "publication \"p\" does not exist");
  CHECK(mapped("must be superuser or replication role to start walsender").sqlstate() == "42501");
  CHECK(mapped("something else").message() == "something else");
  CHECK(wal_level_error("replica").message() == "wal_level is 'replica', logical decoding needs 'logical'");
  const std::string info = with_replication_database("host=h dbname='a b' password=x replication=true");
  CHECK_THAT(info, Catch::Contains("host='h'") && Catch::Contains("dbname='a b'") &&
                       Catch::Contains("password='x'") && Catch::EndsWith(" replication=database"));
  CHECK(info.find("replication=true") == std::string::npos);
}
