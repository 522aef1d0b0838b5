// Datum, Numeric and Row: PostgreSQL's semantics of values and their packing.
#include <array>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

#include "pgstream/common/error.hpp"
#include "pgstream/engine/datum_io.hpp"
#include "pgstream/engine/row.hpp"
#include "pgstream/engine/zset.hpp"

using namespace pgstream::engine;

namespace {

std::string text_of(const RowPacker& p, std::size_t column = 0) {
  std::string out;
  format_datum(p.row().at(column), out);
  return out;
}

}  // namespace

TEST_CASE("numeric parses, prints and keeps PostgreSQL's display scale", "[engine][datum]") {
  CHECK(Numeric::parse("1.50").to_string() == "1.50");
  CHECK(Numeric::parse("-0.001").to_string() == "-0.001");
  CHECK(Numeric::parse("  12e3 ").to_string() == "12000");
  CHECK(Numeric::parse("1.5e-3").to_string() == "0.0015");
  CHECK(Numeric::parse("-0.00").to_string() == "0.00");  // no negative zero
  CHECK(Numeric::parse("NaN").is_nan());
  CHECK(Numeric::parse("-Infinity").to_string() == "-Infinity");
  CHECK_THROWS_AS(Numeric::parse("1.2.3"), pgstream::Error);
  CHECK(Numeric::parse("123456789012345678901234567890.123").to_string() ==
        "123456789012345678901234567890.123");
}

TEST_CASE("numeric arithmetic follows PostgreSQL's result scales", "[engine][datum]") {
  CHECK(Numeric::parse("1.5").add(Numeric::parse("2.25")).to_string() == "3.75");
  CHECK(Numeric::parse("1.50").sub(Numeric::parse("2")).to_string() == "-0.50");
  CHECK(Numeric::parse("1.5").mul(Numeric::parse("-2.25")).to_string() == "-3.375");
  CHECK(Numeric::parse("999999999.999999999").add(Numeric::parse("0.000000001")).to_string() ==
        "1000000000.000000000");
  // avg() = sum / count with numeric_div's scale (SELECT avg(x) FROM (VALUES (1),(2)) ...
  // = 1.5000000000000000).
  CHECK(Numeric::from_int(3).div_int(2).to_string() == "1.5000000000000000");
  CHECK(Numeric::from_int(10).div_int(3).to_string() == "3.3333333333333333");
  CHECK(Numeric::parse("1.25").div_int(2).to_string() == "0.62500000000000000000");
  CHECK(Numeric::from_int(100000).div_int(7).to_string() == "14285.714285714286");
  CHECK(Numeric::parse("-2").div_int(3).to_string() == "-0.66666666666666666667");
  CHECK_THROWS_AS(Numeric::from_int(1).div_int(0), pgstream::Error);
  CHECK(Numeric::infinity(false).add(Numeric::infinity(true)).is_nan());
  CHECK(Numeric::parse("2.5").rescaled(0).to_string() == "3");
  CHECK(Numeric::parse("-2.5").rescaled(0).to_string() == "-3");
}

TEST_CASE("numeric order: NaN above +Infinity, scale does not matter", "[engine][datum]") {
  CHECK(Numeric::parse("1.0") == Numeric::parse("1.00"));
  CHECK(Numeric::parse("NaN").compare(Numeric::infinity(false)) > 0);
  CHECK(Numeric::infinity(true).compare(Numeric::parse("-1e100")) < 0);
  CHECK(Numeric::parse("-2").compare(Numeric::parse("-1.5")) < 0);
  CHECK(Numeric::parse("1.00").normalized().to_string() == "1");
}

TEST_CASE("floats: NaN equals NaN and sorts last, -0 equals 0", "[engine][datum]") {
  RowPacker a;
  RowPacker b;
  a.push_float8(-0.0);
  b.push_float8(0.0);
  CHECK(a.row() == b.row());
  a.clear();
  b.clear();
  a.push_float8(std::nan("1"));
  b.push_float8(-std::numeric_limits<double>::quiet_NaN());
  CHECK(a.row() == b.row());
  RowPacker inf;
  inf.push_float8(std::numeric_limits<double>::infinity());
  CHECK(compare_datums(a.row().at(0), inf.row().at(0)) > 0);
  RowPacker f4;
  f4.push_float4(1.5F);
  CHECK(compare_datums(f4.row().at(0), inf.row().at(0)) < 0);  // across widths
  CHECK(text_of(a) == "NaN");
  RowPacker v;
  v.push_float8(0.1);
  v.push_float8(1e20);
  v.push_float8(1.5e-7);
  v.push_float8(123456.789);
  CHECK(text_of(v, 0) == "0.1");
  CHECK(text_of(v, 1) == "1e+20");
  CHECK(text_of(v, 2) == "1.5e-07");
  CHECK(text_of(v, 3) == "123456.789");
}

TEST_CASE("bpchar ignores trailing blanks; text orders through the collation", "[engine][datum]") {
  RowPacker a;
  RowPacker b;
  a.push_bpchar("ab   ");
  b.push_bpchar("ab");
  CHECK(a.row() == b.row());
  class Reverse final : public Collation {
   public:
    int compare(std::string_view x, std::string_view y) const override {
      return -c_collation().compare(x, y);
    }
  };
  RowPacker t;
  t.push_text("a");
  t.push_text("b");
  CHECK(compare_datums(t.row().at(0), t.row().at(1)) < 0);
  CHECK(compare_datums(t.row().at(0), t.row().at(1), Reverse()) > 0);
}

TEST_CASE("dates, timestamps and intervals print and compare as PostgreSQL does", "[engine][datum]") {
  RowPacker p;
  p.push_date(days_from_civil(2024, 2, 29));
  p.push_timestamp(static_cast<std::int64_t>(days_from_civil(1999, 12, 31)) * kMicrosPerDay + 1500000);
  p.push_timestamptz(kTimestampPosInfinity);
  p.push_interval({3723000000, 3, 14});
  p.push_interval({-1000000, 0, 0});
  p.push_date(days_from_civil(0, 1, 1));
  CHECK(text_of(p, 0) == "2024-02-29");
  CHECK(text_of(p, 1) == "1999-12-31 00:00:01.5");
  CHECK(text_of(p, 2) == "infinity");
  CHECK(text_of(p, 3) == "1 year 2 mons 3 days 01:02:03");
  CHECK(text_of(p, 4) == "-00:00:01");
  CHECK(text_of(p, 5) == "0001-01-01 BC");
  RowPacker m;
  m.push_interval({0, 0, 1});   // 1 mon
  m.push_interval({0, 30, 0});  // 30 days
  CHECK(compare_datums(m.row().at(0), m.row().at(1)) == 0);
}

TEST_CASE("uuid, bytea, arrays and pass-through values", "[engine][datum]") {
  std::array<std::byte, 16> id{};
  for (std::size_t i = 0; i < 16; ++i) id[i] = static_cast<std::byte>(i * 17);
  RowPacker p;
  p.push_uuid(id);
  std::array<std::byte, 2> raw{std::byte{0xde}, std::byte{0xad}};
  p.push_bytea(raw);
  RowPacker elements;
  elements.push_int4(1);
  elements.push_null();
  elements.push_int4(3);
  p.push_array(type_oid::kInt4, elements.row());
  RowPacker texts;
  texts.push_text("a b");
  texts.push_text("");
  p.push_array(type_oid::kText, texts.row());
  p.push_pass_through(600, "(1,2)");  // point
  CHECK(text_of(p, 0) == "00112233-4455-6677-8899-aabbccddeeff");
  CHECK(text_of(p, 1) == "\\xdead");
  CHECK(text_of(p, 2) == "{1,NULL,3}");
  CHECK(text_of(p, 3) == "{\"a b\",\"\"}");
  CHECK(text_of(p, 4) == "(1,2)");
  CHECK(p.row().at(4).pass_through_oid() == 600);
  CHECK(kind_for_type_oid(1043) == DatumKind::Text);
  CHECK(kind_for_type_oid(600) == DatumKind::PassThrough);
  CHECK(type_oid_for_kind(DatumKind::Numeric) == 1700);
}

TEST_CASE("rows: byte equality, cheap views, packer reuse, normalized keys", "[engine][row]") {
  RowPacker p;
  p.push_int4(7);
  p.push_null();
  p.push_text("hello");
  p.push_numeric(Numeric::parse("2.50"));
  RowRef r = p.row();
  CHECK(r.arity() == 4);
  CHECK(r.at(0).as_int4() == 7);
  CHECK(r.at(1).is_null());
  CHECK(r.at(2).as_text() == "hello");
  CHECK(debug_string(r) == "(7, NULL, 'hello', 2.50)");
  Row owned(r);
  CHECK(owned.ref() == r);
  CHECK(owned.ref().hash() == r.hash());
  std::vector<std::uint32_t> cols = {3, 0};
  RowPacker key;
  key.pack_key(r, cols);
  CHECK(debug_string(key.row()) == "(2.5, 7)");
  CHECK(has_null(r));
  CHECK_FALSE(has_null(key.row()));
}

TEST_CASE("zset consolidation merges rows and drops zero weights", "[engine][zset]") {
  ZSet z;
  RowPacker p;
  for (int i : {3, 1, 3, 2, 1}) {
    p.clear();
    p.push_int4(i);
    z.add(p.row(), i == 1 ? -1 : 1);
  }
  p.clear();
  p.push_int4(2);
  z.add(p.row(), -1);
  z.consolidate();
  REQUIRE(z.size() == 2);
  std::size_t one = z[0].row.at(0).as_int4() == 1 ? 0 : 1;
  CHECK(z[one].row.at(0).as_int4() == 1);
  CHECK(z[one].weight == -2);
  CHECK(z[1 - one].row.at(0).as_int4() == 3);
  CHECK(z[1 - one].weight == 2);
  CHECK(z.total_weight() == 0);
}

TEST_CASE("text input round-trips PostgreSQL's text output", "[engine][datum]") {
  struct Case {
    std::uint32_t oid;
    const char* text;
  };
  const Case cases[] = {
      {type_oid::kBool, "t"},
      {type_oid::kInt2, "-32768"},
      {type_oid::kInt4, "2147483647"},
      {type_oid::kInt8, "-9223372036854775808"},
      {type_oid::kFloat8, "1.5e-07"},
      {type_oid::kFloat8, "-Infinity"},
      {type_oid::kFloat4, "3.25"},
      {type_oid::kNumeric, "-12.3400"},
      {type_oid::kText, "héllo, world"},
      {type_oid::kBytea, "\\x00ff10"},
      {type_oid::kUuid, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
      {type_oid::kDate, "1999-01-08"},
      {type_oid::kDate, "0044-03-15 BC"},
      {type_oid::kDate, "-infinity"},
      {type_oid::kTime, "04:05:06.789"},
      {type_oid::kTimestamp, "2026-11-25 19:02:06.5"},
      {type_oid::kTimestamptz, "2026-11-25 19:02:06+00"},
      {type_oid::kInterval, "1 year 2 mons -3 days +04:05:06.5"},
      {type_oid::kInterval, "-00:00:01"},
      {type_oid::kInterval, "00:00:00"},
      {type_oid::kJsonb, "{\"a\": [1, 2]}"},
      {1007, "{1,NULL,3}"},
      {1009, "{\"a b\",c,\"\"}"},
      {1007, "{{1,2},{3,4}}"},
      {1007, "[0:1]={7,8}"},
      {1007, "{}"},
      {600, "(1,2)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.oid, c.text);
    RowPacker p;
    parse_datum(c.oid, c.text, p);
    std::string back;
    format_datum(p.row().at(0), back);
    CHECK(back == c.text);
  }
  RowPacker p;
  parse_datum(type_oid::kTimestamptz, "2026-11-25 21:02:06+02", p);
  std::string back;
  format_datum(p.row().at(0), back);
  CHECK(back == "2026-11-25 19:02:06+00");
  CHECK_THROWS_AS(parse_datum(type_oid::kInt4, "12x", p), pgstream::Error);
  CHECK_THROWS_AS(parse_datum(type_oid::kInt2, "40000", p), pgstream::Error);
  CHECK_THROWS_AS(parse_datum(type_oid::kBool, "maybe", p), pgstream::Error);
}
