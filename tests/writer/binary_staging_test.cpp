// Binary staging (engine/datum_binary.hpp + the writer's COPY FORMAT binary)
// against a real server: the oracle is the same delta staged as text.
#include <catch2/catch.hpp>

#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "pgstream/common/copy_text.hpp"
#include "pgstream/engine/datum.hpp"
#include "pgstream/engine/datum_binary.hpp"
#include "pgstream/engine/datum_io.hpp"
#include "pgstream/writer/apply.hpp"
#include "pgstream/writer/target.hpp"
#include "writer_testing.hpp"

using pgstream::Error;
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
using pgstream::writer::testing::Multiset;
using pgstream::writer::testing::register_target;
using pgstream::writer::testing::target_rows;
namespace engine = pgstream::engine;
namespace type_oid = pgstream::engine::type_oid;

namespace {

struct Column {
  std::string name;
  std::string type_sql;
  std::uint32_t oid;
  std::vector<std::string> values;  // text input; "NULL" is NULL
};

// Every binary-sendable type, with the edges of its binary format: signs,
// NaN and infinities, scales, base-10000 digit boundaries, escapes, multibyte
// text, typmods the server applies on receipt.
const std::vector<Column>& columns() {
  static const std::vector<Column> kColumns = {
      {"b", "boolean", type_oid::kBool, {"t", "f"}},
      {"i2", "smallint", type_oid::kInt2, {"0", "-32768", "32767"}},
      {"i4", "integer", type_oid::kInt4, {"-2147483648", "2147483647", "42"}},
      {"i8", "bigint", type_oid::kInt8, {"-9223372036854775808", "9223372036854775807", "-1"}},
      {"f4", "real", type_oid::kFloat4, {"1.5", "-0", "NaN", "-Infinity", "3.4028235e+38", "1e-45"}},
      {"f8",
       "double precision",
       type_oid::kFloat8,
       {"0.1", "NaN", "Infinity", "2.2250738585072014e-308", "-1.7976931348623157e+308"}},
      {"n",
       "numeric",
       type_oid::kNumeric,
       {"0", "0.00", "-0.5", "12345678.9", "0.00000000000000000001",
        "-123456789012345678901234567890.123456789", "NaN", "Infinity", "-Infinity", "10000", "9999.9999",
        "100000000000000000000", "0.0001", "1.10"}},
      {"n2", "numeric(12,2)", type_oid::kNumeric, {"1.25", "-9999999999.99", "0.10", "3"}},
      {"t", "text", type_oid::kText, {"", "tab\there\nnew \\ back", "ünïcødé 😀", std::string(3000, 'x')}},
      {"v", "character varying(10)", type_oid::kVarchar, {"abc", ""}},
      {"c", "character(5)", type_oid::kBpchar, {"ab", "abcde", ""}},
      {"by", "bytea", type_oid::kBytea, {"\\x", "\\x00ff10", "\\x5c09"}},
      {"d", "date", type_oid::kDate, {"2000-01-01", "1999-12-31", "infinity", "-infinity", "0001-01-01"}},
      {"tm", "time without time zone", type_oid::kTime, {"00:00:00", "23:59:59.999999", "24:00:00"}},
      {"ts",
       "timestamp without time zone",
       type_oid::kTimestamp,
       {"2000-01-01 00:00:00", "1970-01-01 00:00:00.123456", "infinity", "-infinity", "1900-02-28 12:00:00"}},
      {"tz",
       "timestamp with time zone",
       type_oid::kTimestamptz,
       {"2026-11-26 09:00:00+00", "1999-12-31 23:59:59.5+00", "infinity"}},
      {"iv",
       "interval",
       type_oid::kInterval,
       {"1 year 2 mons 3 days 04:05:06.789", "-1 days +02:00:00", "00:00:00", "-3 mons"}},
      {"u",
       "uuid",
       type_oid::kUuid,
       {"00000000-0000-0000-0000-000000000000", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}},
      {"j", "json", type_oid::kJson, {"{\"b\": 1,  \"a\": [1, 2]}", "null", "\"x\\ty\""}},
      {"jb", "jsonb", type_oid::kJsonb, {"{\"a\": 1, \"b\": [true, null]}", "\"x\"", "1.50", "{}"}},
  };
  return kColumns;
}

// One row as StreamTable::step() makes it: the engine's datums printed as a
// COPY text line, and their binary fields.
DeltaRow delta_row(const std::vector<std::string>& values, std::int64_t weight) {
  engine::RowPacker packer;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (values[i] == "NULL") {
      packer.push_null();
    } else {
      engine::parse_datum(columns()[i].oid, values[i], packer);
    }
  }
  DeltaRow out{"", weight};
  std::size_t i = 0;
  std::string text;
  for (const engine::DatumRef datum : packer.row()) {
    if (i != 0) out.line += '\t';
    text.clear();
    if (datum.is_null()) {
      pgstream::append_copy_null(out.line);
    } else {
      engine::format_datum(datum, text);
      pgstream::append_copy_field(out.line, text);
    }
    // Some rows let the encoder print numerics itself.
    REQUIRE(engine::append_binary_field(
        datum, columns()[i].oid, values[0] == "t" ? std::string_view() : std::string_view(text), out.binary));
    ++i;
  }
  return out;
}

TargetSpec spec_named(const std::string& name, std::vector<int> key) {
  TargetSpec spec;
  spec.schema = "public";
  spec.name = name;
  for (const auto& column : columns()) spec.columns.push_back({column.name, column.type_sql});
  spec.key = std::move(key);
  return spec;
}

std::vector<DeltaRow> text_only(std::vector<DeltaRow> rows) {
  for (auto& row : rows) row.binary.clear();
  return rows;
}

}  // namespace

TEST_CASE("binary fields: the types that have one, and kinds that do not match", "[writer][binary]") {
  CHECK(engine::binary_sendable(type_oid::kNumeric));
  CHECK_FALSE(engine::binary_sendable(type_oid::kName));
  CHECK_FALSE(engine::binary_sendable(1007));  // int4[]
  CHECK_FALSE(engine::binary_sendable(790));   // money: pass-through
  engine::RowPacker packer;
  packer.push_int8(7);
  packer.push_null();
  std::string out;
  const auto row = packer.row();
  auto it = row.begin();
  CHECK_FALSE(
      engine::append_binary_field(*it, type_oid::kInt4, "", out));  // an int8 datum for an int4 column
  CHECK(out.empty());
  REQUIRE(engine::append_binary_field(*it, type_oid::kInt8, "", out));
  CHECK(out == std::string("\0\0\0\x08\0\0\0\0\0\0\0\x07", 12));
  ++it;
  out.clear();
  REQUIRE(engine::append_binary_field(*it, type_oid::kInt4, "", out));
  CHECK(out == "\xff\xff\xff\xff");
}

TEST_CASE_METHOD(PgDatabase, "binary staging stores what text staging stores, for every sendable type",
                 "[writer][binary][pg]") {
  PgConnection& conn = connection();
  prepare_session(conn);
  const bool keyed = GENERATE(false, true);
  CAPTURE(keyed);
  // Keyed on (i4, t): random rows give each key at most one live row.
  std::vector<int> key;
  if (keyed) key = {2, 8};
  TargetSpec binary_spec = spec_named(keyed ? "binary keyed" : "binary keyless", key);
  TargetSpec text_spec = spec_named(keyed ? "text keyed" : "text keyless", key);
  for (TargetSpec* spec : {&binary_spec, &text_spec}) {
    spec->pgs_id = register_target(conn, *spec);
    create_target(conn, *spec);
  }

  std::mt19937_64 rng(20261126);
  std::map<std::string, DeltaRow> live;  // keyed: key text -> its row
  std::vector<DeltaRow> live_rows;       // keyless: one entry per copy
  std::uint64_t lsn = 0x1000;
  for (int epoch = 0; epoch < 30; ++epoch) {
    CAPTURE(epoch);
    std::vector<DeltaRow> delta;
    std::set<std::string> touched;
    for (int change = 0; change < 8; ++change) {
      std::vector<std::string> values;
      for (const auto& column : columns()) {
        std::uniform_int_distribution<std::size_t> pick(0, column.values.size());
        const std::size_t at = pick(rng);
        values.push_back(at == column.values.size() ? "NULL" : column.values[at]);
      }
      DeltaRow row = delta_row(values, 1);
      if (keyed) {
        const std::string key_text = values[2] + '\t' + values[8];
        if (!touched.insert(key_text).second) continue;  // one change per key and delta
        if (const auto found = live.find(key_text); found != live.end()) {
          DeltaRow removed = found->second;
          removed.weight = -1;
          delta.push_back(std::move(removed));
          live.erase(found);
          if (rng() % 3 == 0) continue;  // a delete
        }
        live.emplace(key_text, row);
        delta.push_back(std::move(row));
      } else if (!live_rows.empty() && rng() % 3 == 0) {
        const std::size_t at = std::uniform_int_distribution<std::size_t>(0, live_rows.size() - 1)(rng);
        DeltaRow removed = live_rows[at];
        removed.weight = -1;
        delta.push_back(std::move(removed));
        live_rows.erase(live_rows.begin() + static_cast<std::ptrdiff_t>(at));
      } else {
        const std::int64_t copies = 1 + static_cast<std::int64_t>(rng() % 2);  // duplicates
        for (std::int64_t copy = 0; copy < copies; ++copy) live_rows.push_back(row);
        row.weight = copies;
        delta.push_back(std::move(row));
      }
    }
    lsn += 0x10;
    const auto binary_stats =
        apply_delta(conn, binary_spec, delta, Frontier{Lsn(lsn), std::nullopt}, Action::Differential);
    const auto text_stats = apply_delta(conn, text_spec, text_only(delta), Frontier{Lsn(lsn), std::nullopt},
                                        Action::Differential);
    CHECK(binary_stats == text_stats);
    const Multiset binary_rows = target_rows(conn, binary_spec);
    REQUIRE(binary_rows == target_rows(conn, text_spec));
  }
  CHECK(!target_rows(conn, binary_spec).empty());

  SECTION("a delta is really staged in binary: a corrupt field fails it") {
    DeltaRow row = delta_row(std::vector<std::string>(columns().size(), "NULL"), 1);
    // The boolean field claims two bytes: its receive function reads one,
    // and COPY rejects a field it did not read whole.
    row.binary.replace(0, 4, std::string("\0\0\0\x02\x01\x01", 6));
    const std::vector<DeltaRow> bad{row};
    CHECK_THROWS_AS(
        apply_delta(conn, binary_spec, bad, Frontier{Lsn(lsn + 0x10), std::nullopt}, Action::Differential),
        Error);
  }
  SECTION("a delta with one row lacking its binary form is staged as text") {
    std::vector<DeltaRow> mixed{delta_row(std::vector<std::string>(columns().size(), "NULL"), 1),
                                delta_row(std::vector<std::string>(columns().size(), "NULL"), 1)};
    if (keyed) mixed.pop_back();
    mixed.back().binary.clear();
    const auto before = target_rows(conn, binary_spec);
    apply_delta(conn, binary_spec, mixed, Frontier{Lsn(lsn + 0x10), std::nullopt}, Action::Differential);
    apply_delta(conn, text_spec, text_only(mixed), Frontier{Lsn(lsn + 0x10), std::nullopt},
                Action::Differential);
    CHECK(target_rows(conn, binary_spec) == target_rows(conn, text_spec));
    CHECK(target_rows(conn, binary_spec) != before);
  }
}
