// Dedicated cases for Reduce's aggregates: each result against the text a
// PostgreSQL 15 server printed for the same input (the expected strings
// below were produced by running the queries in the comments), the NULL
// rules, retraction back to empty, and exactness under retraction.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/engine/jsonb.hpp"
#include "pgstream/engine/numeric.hpp"
#include "pgstream/engine/operators/aggregate.hpp"

using namespace pgstream::engine;

namespace {

// One row of a test input, built cell by cell.
struct Cells {
  RowPacker p;
  Cells& i2(std::int16_t v) { return p.push_int2(v), *this; }
  Cells& i4(std::int32_t v) { return p.push_int4(v), *this; }
  Cells& i8(std::int64_t v) { return p.push_int8(v), *this; }
  Cells& f8(double v) { return p.push_float8(v), *this; }
  Cells& num(const char* v) { return p.push_numeric(Numeric::parse(v)), *this; }
  Cells& text(const char* v) { return p.push_text(v), *this; }
  Cells& boolean(bool v) { return p.push_bool(v), *this; }
  Cells& null() { return p.push_null(), *this; }
  Cells& interval(std::int32_t months, std::int32_t days, std::int64_t micros) {
    return p.push_interval(Interval{micros, days, months}), *this;
  }
};

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// One aggregate's accumulator fed row by row.
struct Agg {
  AggregateSpec spec;
  Accumulator acc;
  explicit Agg(AggregateKind kind, DatumKind input = DatumKind::Float8, std::int32_t column2 = -1) {
    spec.kind = kind;
    spec.input = input;
    spec.column2 = column2;
  }
  Agg& add(const Cells& row, std::int64_t weight = 1) {
    acc.add_row(spec, row.p.row(), weight, c_collation());
    return *this;
  }
  [[nodiscard]] std::string result() const {
    RowPacker out;
    acc.finish(spec, out);
    DatumRef d = out.row().at(0);
    if (d.is_null()) return "NULL";
    std::string text;
    format_datum(d, text);
    return text;
  }
};

// A float result equal to PostgreSQL's printed value to 12 significant digits
// (the engine's sums are exact, PostgreSQL's Youngs-Cramer sums are not).
bool close_to(const std::string& got, const std::string& expected) {
  if (got == expected) return true;
  char* end = nullptr;
  double a = std::strtod(got.c_str(), &end);
  if (*end != '\0') return false;
  double b = std::strtod(expected.c_str(), nullptr);
  return std::fabs(a - b) <= 1e-12 * std::max(std::fabs(a), std::fabs(b));
}

std::string sqlstate_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const pgstream::Error& e) {
    return std::string(e.sqlstate());
  }
  return "";
}

}  // namespace

TEST_CASE("numeric division uses select_div_scale and rounds the exact quotient", "[aggregates][numeric]") {
  // SELECT 1::numeric/3, 2::numeric/3.0, 10::numeric/0.0003, 1.5/7e10,
  //        123456789.123456789/(-0.001), 0.000001/7::numeric, 1e20::numeric/3e-5;
  auto div = [](const char* a, const char* b) {
    return Numeric::parse(a).div(Numeric::parse(b)).to_string();
  };
  CHECK(div("1", "3") == "0.33333333333333333333");
  CHECK(div("2", "3.0") == "0.66666666666666666667");
  CHECK(div("10", "0.0003") == "33333.333333333333");
  CHECK(div("1.5", "7e10") == "0.0000000000214285714285714286");
  CHECK(div("123456789.123456789", "-0.001") == "-123456789123.456789000");
  CHECK(div("0.000001", "7") == "0.000000142857142857142857");
  CHECK(div("1e20", "3e-5") == "3333333333333333333333333.33333");
  CHECK(div("NaN", "0") == "NaN");
  CHECK(div("Infinity", "-2") == "-Infinity");
  CHECK(div("Infinity", "-Infinity") == "NaN");
  CHECK(div("5", "Infinity") == "0");
  CHECK(sqlstate_of([&] { (void)div("1", "0.00"); }) == "22012");
  CHECK(sqlstate_of([&] { (void)div("Infinity", "0"); }) == "22012");
}

TEST_CASE("numeric sqrt follows numeric_sqrt's scale and rounds correctly", "[aggregates][numeric]") {
  // SELECT sqrt(0::numeric), sqrt(2::numeric), sqrt(2.000000000000000000000::numeric),
  //        sqrt(0.0001::numeric), sqrt(1e-10::numeric),
  //        sqrt(123456789012345678901234567890::numeric), sqrt(0.00000000000000000002::numeric);
  auto sq = [](const char* a) { return Numeric::parse(a).sqrt().to_string(); };
  CHECK(sq("0") == "0.000000000000000");
  CHECK(sq("2") == "1.414213562373095");
  CHECK(sq("2.000000000000000000000") == "1.414213562373095048802");
  CHECK(sq("0.0001") == "0.01000000000000000");
  CHECK(sq("1e-10") == "0.000010000000000000000");
  CHECK(sq("123456789012345678901234567890") == "351364182882014.4");
  CHECK(sq("0.00000000000000000002") == "0.0000000001414213562373095");
  CHECK(sq("NaN") == "NaN");
  CHECK(sq("Infinity") == "Infinity");
  CHECK(sqlstate_of([&] { (void)sq("-0.5"); }) == "2201F");
  CHECK(sqlstate_of([&] { (void)sq("-Infinity"); }) == "2201F");
}

TEST_CASE("stddev and variance of int and numeric match numeric_stddev_internal", "[aggregates]") {
  using K = AggregateKind;
  auto all = [](DatumKind input, const std::vector<Cells>& rows) {
    std::vector<std::string> out;
    for (K kind : {K::StddevPop, K::StddevSamp, K::VarPop, K::VarSamp}) {
      Agg a(kind, input);
      for (const Cells& r : rows) a.add(r);
      out.push_back(a.result());
    }
    return out;
  };
  using V = std::vector<std::string>;
  // SELECT stddev_pop(x), stddev_samp(x), var_pop(x), var_samp(x) FROM (VALUES (1::int4),(2),(4),(7)) t(x);
  CHECK(all(DatumKind::Int4, {Cells().i4(1), Cells().i4(2), Cells().i4(4), Cells().i4(7)}) ==
        V{"2.2912878474779200", "2.6457513110645906", "5.2500000000000000", "7.0000000000000000"});
  // ... (1.5::numeric),(2.25),(4.125),(-7)
  CHECK(all(DatumKind::Numeric,
            {Cells().num("1.5"), Cells().num("2.25"), Cells().num("4.125"), Cells().num("-7")}) ==
        V{"4.2760004311856658", "4.9375000000000000", "18.2841796875000000", "24.3789062500000000"});
  // ... (1::int8),(1) and (5::int2): a zero numerator is 0 with scale 0
  CHECK(all(DatumKind::Int8, {Cells().i8(1), Cells().i8(1)}) == V{"0", "0", "0", "0"});
  CHECK(all(DatumKind::Int2, {Cells().i2(5)}) == V{"0", "NULL", "0", "NULL"});
  // ... (123456789012::int8),(987654321098),(-5)
  auto big = all(DatumKind::Int8, {Cells().i8(123456789012), Cells().i8(987654321098), Cells().i8(-5)});
  CHECK(big[0] == "439385936559");
  CHECK(big[1] == "538135672362");
  CHECK(big[3] == "289590001868558147079049");
  // ... (0.001::numeric),(0.002),(0.0035)
  auto small = all(DatumKind::Numeric, {Cells().num("0.001"), Cells().num("0.002"), Cells().num("0.0035")});
  CHECK(small[0] == "0.001027402333828162741925");
  CHECK(small[1] == "0.001258305739211791616074");
  CHECK(small[2] == "0.000001055555555555555556");
  // ... (1e20::numeric),(1e-20::numeric)
  auto wide = all(DatumKind::Numeric, {Cells().num("1e20"), Cells().num("1e-20")});
  CHECK(wide[0] == "49999999999999999999.9999999999999999999950000000000000000000");
  CHECK(wide[1] == "70710678118654752440.0844362104849039284765227010355381835900");
  // NaN and infinities count as rows and give NaN: (1),('NaN') and ('Infinity')
  CHECK(all(DatumKind::Numeric, {Cells().num("1"), Cells().num("NaN")}) == V{"NaN", "NaN", "NaN", "NaN"});
  CHECK(all(DatumKind::Numeric, {Cells().num("Infinity")}) == V{"NaN", "NULL", "NaN", "NULL"});
}

TEST_CASE("numeric variance forgets a retracted value's scale and specials", "[aggregates]") {
  Agg a(AggregateKind::StddevSamp, DatumKind::Numeric);
  a.add(Cells().num("1.5")).add(Cells().num("2.25")).add(Cells().num("4.125")).add(Cells().num("-7"));
  a.add(Cells().num("0.123456789")).add(Cells().num("NaN")).add(Cells().num("-Infinity"));
  CHECK(a.result() == "NaN");
  a.add(Cells().num("0.123456789"), -1).add(Cells().num("NaN"), -1).add(Cells().num("-Infinity"), -1);
  CHECK(a.result() == "4.9375000000000000");
  a.add(Cells().num("1.5"), -1).add(Cells().num("2.25"), -1).add(Cells().num("4.125"), -1);
  CHECK(a.result() == "NULL");
  a.add(Cells().num("-7"), -1);
  CHECK(a.result() == "NULL");
}

TEST_CASE("float variance: exact sums, NaN and infinities as PostgreSQL", "[aggregates]") {
  using K = AggregateKind;
  Agg samp(K::StddevSamp);
  Agg pop(K::VarPop);
  for (double v : {1.0, 2.0, 4.0, 7.0}) {
    samp.add(Cells().f8(v));
    pop.add(Cells().f8(v));
  }
  // SELECT stddev_samp(x), var_pop(x) FROM (VALUES (1.0::float8),(2.0),(4.0),(7.0)) t(x);
  CHECK(close_to(samp.result(), "2.6457513110645907"));
  CHECK(pop.result() == "5.25");
  samp.add(Cells().f8(kInf));
  CHECK(samp.result() == "NaN");  // (1::float8),('Infinity') -> NaN
  samp.add(Cells().f8(kInf), -1);
  CHECK(close_to(samp.result(), "2.6457513110645907"));
  Agg one(K::VarSamp);
  one.add(Cells().f8(kInf));
  CHECK(one.result() == "NULL");
  Agg one_pop(K::StddevPop);
  one_pop.add(Cells().f8(kInf));
  CHECK(one_pop.result() == "NaN");
  // (1e308::float8),(-1e308::float8): ERROR 22003 value out of range: overflow
  Agg huge(K::StddevPop);
  CHECK(sqlstate_of([&] {
          huge.add(Cells().f8(1e308)).add(Cells().f8(-1e308));
          (void)huge.result();
        }) == "22003");
  // Large offsets cancel exactly: var_pop(1e9 + {1, 2, 3}) = 2/3.
  Agg shifted(K::VarPop);
  for (double v : {1e9 + 1, 1e9 + 2, 1e9 + 3, 5e15}) shifted.add(Cells().f8(v));
  shifted.add(Cells().f8(5e15), -1);
  CHECK(shifted.result() == "0.6666666666666666");
}

TEST_CASE("float sum and avg are exact under retraction", "[aggregates]") {
  using K = AggregateKind;
  Agg sum(K::Sum);
  Agg avg(K::Avg);
  for (Agg* a : {&sum, &avg}) {
    a->add(Cells().f8(1e20)).add(Cells().f8(1)).add(Cells().f8(-1e20));
  }
  CHECK(sum.result() == "1");  // the exact sum, correctly rounded
  CHECK(avg.result() == "0.3333333333333333");
  sum.add(Cells().f8(-1e20), -1).add(Cells().f8(1e20), -1);
  CHECK(sum.result() == "1");
  // 0.1 added ten times and retracted nine times is 0.1 again.
  Agg tenth(K::Sum);
  tenth.add(Cells().f8(0.1), 10).add(Cells().f8(0.1), -9);
  CHECK(tenth.result() == "0.1");
  tenth.add(Cells().f8(0.1), 2).add(Cells().f8(0.2), 1);
  CHECK(tenth.result() == "0.5");  // fsum([0.1] * 3 + [0.2]) rounds the exact 0.5000000000000000277
  // Infinities: +Inf and -Inf give NaN; retracting them makes the sum finite.
  sum.add(Cells().f8(kInf)).add(Cells().f8(-kInf));
  CHECK(sum.result() == "NaN");
  sum.add(Cells().f8(kInf), -1);
  CHECK(sum.result() == "-Infinity");
  sum.add(Cells().f8(-kInf), -1).add(Cells().f8(kNaN));
  CHECK(sum.result() == "NaN");
  sum.add(Cells().f8(kNaN), -1);
  CHECK(sum.result() == "1");
  sum.add(Cells().f8(1), -1);
  CHECK(sum.result() == "NULL");
  // sum(float4) -> float4: SELECT sum(x) FROM (VALUES (0.1::float4),(0.2::float4),(0.3::float4)) t(x); -> 0.6
  Agg f4(K::Sum, DatumKind::Float4);
  for (float v : {0.1F, 0.2F, 0.3F}) {
    Cells c;
    c.p.push_float4(v);
    f4.add(c);
  }
  CHECK(f4.result() == "0.6");
  // (3e38::float4),(3e38::float4): ERROR 22003 value out of range: overflow
  Agg big(K::Sum, DatumKind::Float4);
  Cells c;
  c.p.push_float4(3e38F);
  big.add(c, 2);
  CHECK(sqlstate_of([&] { (void)big.result(); }) == "22003");
}

namespace {

const std::vector<AggregateKind>& regression_kinds() {
  using K = AggregateKind;
  static const std::vector<K> kinds = {K::Corr,          K::CovarPop, K::CovarSamp, K::RegrSlope,
                                       K::RegrIntercept, K::RegrR2,   K::RegrCount, K::RegrAvgX,
                                       K::RegrAvgY,      K::RegrSxx,  K::RegrSxy,   K::RegrSyy};
  return kinds;
}

// (y, x) rows; std::nullopt is NULL. Returns the twelve results in the order
// of regression_kinds() (the order of the SELECT lists in the comments).
std::vector<std::string> regression(
    const std::vector<std::pair<std::optional<double>, std::optional<double>>>& rows,
    std::int64_t weight = 1) {
  std::vector<std::string> out;
  for (AggregateKind kind : regression_kinds()) {
    Agg a(kind, DatumKind::Float8, 1);
    for (const auto& [y, x] : rows) {
      Cells c;
      y ? c.f8(*y) : c.null();
      x ? c.f8(*x) : c.null();
      a.add(c, weight);
    }
    out.push_back(a.result());
  }
  return out;
}

void check_close(const std::vector<std::string>& got, const std::vector<std::string>& expected) {
  REQUIRE(got.size() == expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("aggregate #" << i << ": got " << got[i] << ", PostgreSQL " << expected[i]);
    CHECK(close_to(got[i], expected[i]));
  }
}

}  // namespace

TEST_CASE("corr, covar_* and regr_* match PostgreSQL, NULL rules included", "[aggregates]") {
  // SELECT corr(y,x), covar_pop(y,x), covar_samp(y,x), regr_slope(y,x), regr_intercept(y,x),
  //        regr_r2(y,x), regr_count(y,x), regr_avgx(y,x), regr_avgy(y,x), regr_sxx(y,x),
  //        regr_sxy(y,x), regr_syy(y,x) FROM r;  -- with these rows of r(y float8, x float8)
  check_close(regression({{1, 2}, {3, 5}, {2, 2}, {std::nullopt, 4}, {7, std::nullopt}, {10.5, -1.25}}),
              {"-0.7270191949019255", "-6.0234375", "-8.03125", "-1.2326139088729018", "6.513189448441247",
               "0.5285569097558438", "4", "1.9375", "4.125", "19.546875", "-24.09375", "56.1875"});
  check_close(regression({{3, 5}}),
              {"NULL", "0", "NULL", "NULL", "NULL", "NULL", "1", "5", "3", "0", "0", "0"});
  check_close(regression({}),
              {"NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "0", "NULL", "NULL", "NULL", "NULL", "NULL"});
  // A horizontal line (syy = 0): r2 is 1; a vertical one (sxx = 0): NULL.
  auto horizontal = regression({{1, 2}, {1, 3}});
  CHECK(std::vector<std::string>(horizontal.begin(), horizontal.begin() + 7) ==
        std::vector<std::string>{"NULL", "0", "0", "0", "1", "1", "2"});
  auto vertical = regression({{1, 2}, {3, 2}});
  CHECK(std::vector<std::string>(vertical.begin(), vertical.begin() + 7) ==
        std::vector<std::string>{"NULL", "0", "0", "NULL", "NULL", "NULL", "2"});
  check_close(regression({{1, 2}, {3, kInf}}),
              {"NaN", "NaN", "NaN", "NaN", "NaN", "NaN", "2", "Infinity", "2", "NaN", "NaN", "2"});
  check_close(regression({{1, kNaN}}),
              {"NULL", "NaN", "NULL", "NaN", "NaN", "1", "1", "NaN", "1", "NaN", "NaN", "0"});
  auto infinities = regression({{1, kInf}, {2, -kInf}});
  CHECK(infinities[7] == "NaN");
  CHECK(infinities[8] == "1.5");
  CHECK(infinities[9] == "NaN");
  CHECK(infinities[11] == "0.5");
  // (0.1, 0.3), (0.2, 0.7), (0.3, 1.1), (0.45, 1.3): PostgreSQL's own sums round.
  auto r = regression({{0.1, 0.3}, {0.2, 0.7}, {0.3, 1.1}, {0.45, 1.3}});
  CHECK(close_to(r[0], "0.9691094544999568"));
  CHECK(close_to(r[2], "0.06416666666666665"));
  CHECK(close_to(r[3], "0.326271186440678"));
  CHECK(close_to(r[4], "-0.014830508474576287"));
  CHECK(close_to(r[5], "0.9391731348012039"));
  CHECK(close_to(r[9], "0.5899999999999999"));
  CHECK(close_to(r[10], "0.19249999999999995"));
  CHECK(close_to(r[11], "0.06687499999999998"));
}

TEST_CASE("regression sums retract exactly, to empty and back", "[aggregates]") {
  for (AggregateKind kind : regression_kinds()) {
    Agg a(kind, DatumKind::Float8, 1);
    Agg fresh(kind, DatumKind::Float8, 1);
    for (auto [y, x] : std::vector<std::pair<double, double>>{{1, 2}, {3, 5}, {2, 2}, {10.5, -1.25}}) {
      a.add(Cells().f8(y).f8(x));
      fresh.add(Cells().f8(y).f8(x));
    }
    a.add(Cells().f8(1e150).f8(-3e-5)).add(Cells().f8(kNaN).f8(kInf)).add(Cells().f8(0.1).f8(1e15), 3);
    a.add(Cells().f8(1e150).f8(-3e-5), -1)
        .add(Cells().f8(kNaN).f8(kInf), -1)
        .add(Cells().f8(0.1).f8(1e15), -3);
    CHECK(a.result() == fresh.result());  // bit for bit
    for (auto [y, x] : std::vector<std::pair<double, double>>{{1, 2}, {3, 5}, {2, 2}, {10.5, -1.25}})
      a.add(Cells().f8(y).f8(x), -1);
    CHECK(a.result() == (kind == AggregateKind::RegrCount ? "0" : "NULL"));
  }
  // DISTINCT counts each (y, x) pair once.
  Agg d(AggregateKind::RegrCount, DatumKind::Float8, 1);
  d.spec.distinct = true;
  d.add(Cells().f8(1).f8(2), 3).add(Cells().f8(1).f8(3));
  CHECK(d.result() == "2");
}

namespace {

std::int32_t days_2000(int y, unsigned m, unsigned d) { return days_from_civil(y, m, d); }

}  // namespace

TEST_CASE("json_object_agg and jsonb_object_agg print as PostgreSQL", "[aggregates][json]") {
  using K = AggregateKind;
  auto both = [](const std::vector<Cells>& rows, std::int32_t order_column = -1) {
    std::vector<std::string> out;
    for (K kind : {K::JsonObjectAgg, K::JsonbObjectAgg}) {
      Agg a(kind, DatumKind::Text, 1);
      a.spec.order_column = order_column;
      for (const Cells& r : rows) a.add(r);
      out.push_back(a.result());
    }
    return out;
  };
  using V = std::vector<std::string>;
  // SELECT json_object_agg(k, v), jsonb_object_agg(k, v) FROM (VALUES (1,'x'),(2,'y"q')) t(k,v);
  CHECK(both({Cells().i4(1).text("x"), Cells().i4(2).text("y\"q")}) ==
        V{R"({ "1" : "x", "2" : "y\"q" })", R"({"1": "x", "2": "y\"q"})"});
  // jsonb: keys by length then bytes; json keeps every pair.
  // (VALUES ('b', 1), ('a', 2), ('aa', 3), ('', 4)) -> {"": 4, "a": 2, "b": 1, "aa": 3}
  CHECK(both({Cells().text("b").i4(1), Cells().text("a").i4(2), Cells().text("aa").i4(3),
              Cells().text("").i4(4)})[1] == R"({"": 4, "a": 2, "b": 1, "aa": 3})");
  // Duplicate keys: jsonb keeps the last pair; here pairs are in value order,
  // so the largest value wins. (VALUES ('bb',1),('a',NULL),('bb',2),('c',3))
  CHECK(both({Cells().text("bb").i4(1), Cells().text("a").null(), Cells().text("bb").i4(2),
              Cells().text("c").i4(3)}) ==
        V{R"({ "bb" : 1, "bb" : 2, "c" : 3, "a" : null })", R"({"a": null, "c": 3, "bb": 2})"});
  // Numbers: numeric keeps its scale, NaN and Infinity are strings, jsonb
  // reads a float as numeric. (VALUES (1.50,1.50::numeric),(2.0,'NaN'::numeric))
  CHECK(both({Cells().num("1.50").num("1.50"), Cells().num("2.0").num("NaN")})[1] ==
        R"({"2.0": "NaN", "1.50": 1.50})");
  CHECK(both({Cells().f8(1.5).f8(kInf)}) == V{R"({ "1.5" : "Infinity" })", R"({"1.5": "Infinity"})"});
  // (VALUES ('a', 1.0::float8), ('b', 1e20::float8), ('c', 1e-7::float8)), ORDER BY k
  CHECK(both({Cells().text("a").f8(1.0), Cells().text("b").f8(1e20), Cells().text("c").f8(1e-7)}, 0) ==
        V{R"({ "a" : 1, "b" : 1e+20, "c" : 1e-07 })",
          R"({"a": 1, "b": 100000000000000000000, "c": 0.0000001})"});
  // (VALUES (1e20::numeric, 1.000::numeric), (12::numeric, -0.5::numeric))
  CHECK(both({Cells().num("1e20").num("1.000"), Cells().num("12").num("-0.5")})[1] ==
        R"({"12": -0.5, "100000000000000000000": 1.000})");
  // Dates and timestamps in ISO 8601, booleans, escapes, arrays.
  Cells when;
  when.p.push_date(days_2000(2020, 1, 2));
  when.p.push_timestamp(static_cast<std::int64_t>(days_2000(2020, 1, 2)) * kMicrosPerDay +
                        (3 * 3600 + 4 * 60 + 5) * 1000000LL);
  CHECK(both({when}) ==
        V{R"({ "2020-01-02" : "2020-01-02T03:04:05" })", R"({"2020-01-02": "2020-01-02T03:04:05"})"});
  CHECK(both({Cells().boolean(true).i4(1)}) == V{R"({ "true" : 1 })", R"({"true": 1})"});
  RowPacker e1;
  e1.push_int4(1);
  e1.push_int4(2);
  RowPacker e2;
  e2.push_null();
  e2.push_int4(3);
  Cells a1;
  a1.text("a\nb");
  a1.p.push_array(type_oid::kInt4, e1.row());
  Cells a2;
  a2.text("é");
  a2.p.push_array(type_oid::kInt4, e2.row());
  // (VALUES (E'a\nb', ARRAY[1,2]), ('é', ARRAY[NULL,3]))
  CHECK(both({a1, a2}) == V{R"({ "a\nb" : [1,2], "é" : [null,3] })", R"({"é": [null, 3], "a\nb": [1, 2]})"});
}

TEST_CASE("json_object_agg: NULL keys, DISTINCT, FILTER, retraction", "[aggregates][json]") {
  using K = AggregateKind;
  for (K kind : {K::JsonObjectAgg, K::JsonbObjectAgg}) {
    // SELECT json_object_agg(k, v) FROM (VALUES (NULL::text, 1)) t(k,v);
    //   ERROR 22023: field name must not be null (PostgreSQL 15, json and jsonb)
    Agg null_key(kind, DatumKind::Text, 1);
    CHECK(sqlstate_of([&] { null_key.add(Cells().null().i4(1)); }) == "22023");
    Agg array_key(kind, DatumKind::Text, 1);
    Cells arr;
    RowPacker e;
    e.push_int4(1);
    arr.p.push_array(type_oid::kInt4, e.row());
    arr.i4(1);
    CHECK(sqlstate_of([&] { array_key.add(arr); }) == "22023");
  }
  // json_object_agg(DISTINCT k, v) over ('a', 1), ('a', 1) -> { "a" : 1 }
  Agg d(K::JsonObjectAgg, DatumKind::Text, 1);
  d.spec.distinct = true;
  d.add(Cells().text("a").i4(1), 2);
  CHECK(d.result() == R"({ "a" : 1 })");
  // json_object_agg(k, v) FILTER (WHERE v > 1) over ('a', 1), ('b', 2) -> { "b" : 2 }
  Agg f(K::JsonObjectAgg, DatumKind::Text, 1);
  f.spec.filter_column = 2;
  f.add(Cells().text("a").i4(1).boolean(false)).add(Cells().text("b").i4(2).boolean(true));
  CHECK(f.result() == R"({ "b" : 2 })");
  // jsonb: retracting the winning duplicate brings the other pair back.
  Agg j(K::JsonbObjectAgg, DatumKind::Text, 1);
  j.add(Cells().text("k").i4(1)).add(Cells().text("k").i4(2));
  CHECK(j.result() == R"({"k": 2})");
  j.add(Cells().text("k").i4(2), -1);
  CHECK(j.result() == R"({"k": 1})");
  j.add(Cells().text("k").i4(1), -1);
  CHECK(j.result() == "NULL");
}

TEST_CASE("percentile_* with an array of fractions and over intervals", "[aggregates][percentile]") {
  using K = AggregateKind;
  auto multi = [](K kind, DatumKind input, const std::vector<std::optional<double>>& fractions,
                  const std::vector<Cells>& rows) {
    Agg a(kind, input);
    a.spec.fraction_array = true;
    a.spec.fractions = fractions;
    for (const Cells& r : rows) a.add(r);
    return a.result();
  };
  std::vector<Cells> ints = {Cells().i4(1), Cells().i4(2), Cells().i4(4), Cells().i4(10)};
  // percentile_cont / percentile_disc(array[0, 0.25, 0.5, 1]) WITHIN GROUP (ORDER BY x) over (1),(2),(4),(10)
  CHECK(multi(K::PercentileCont, DatumKind::Int4, {0.0, 0.25, 0.5, 1.0}, ints) == "{1,1.75,3,10}");
  CHECK(multi(K::PercentileDisc, DatumKind::Int4, {0.0, 0.25, 0.5, 1.0}, ints) == "{1,1,2,10}");
  CHECK(multi(K::PercentileCont, DatumKind::Int4, {0.5, std::nullopt}, ints) == "{3,NULL}");
  CHECK(multi(K::PercentileDisc, DatumKind::Int4, {0.1, std::nullopt}, ints) == "{1,NULL}");
  CHECK(multi(K::PercentileCont, DatumKind::Int4, {}, {Cells().i4(1)}) == "{}");
  CHECK(multi(K::PercentileCont, DatumKind::Int4, {0.5}, {}) == "NULL");
  CHECK(multi(K::PercentileDisc, DatumKind::Text, {0.5, 0.7},
              {Cells().text("a"), Cells().text("b"), Cells().null()}) == "{a,b}");
  CHECK(sqlstate_of([&] { (void)multi(K::PercentileCont, DatumKind::Int4, {1.5}, {Cells().i4(1)}); }) ==
        "22003");
  // percentile_cont over intervals: interval_lerp (interval_mi, interval_mul, interval_pl).
  constexpr std::int64_t kHour = 3600LL * 1000000LL;
  std::vector<Cells> spans = {Cells().interval(0, 1, 0), Cells().interval(2, 0, 3 * kHour),
                              Cells().interval(12, 0, 0)};
  Agg median(K::PercentileCont, DatumKind::Interval);
  for (const Cells& c : spans) median.add(c);
  CHECK(median.result() == "2 mons 03:00:00");
  CHECK(multi(K::PercentileCont, DatumKind::Interval, {0.1, 0.5, 0.9}, spans) ==
        R"({"13 days -04:12:00","2 mons 03:00:00","10 mons 00:36:00"})");
  Agg p30(K::PercentileCont, DatumKind::Interval);
  p30.spec.fraction = 0.3;
  p30.add(Cells().interval(0, 1, 0)).add(Cells().interval(1, 0, kHour));
  CHECK(p30.result() == "10 days -06:54:00");
  Agg odd(K::PercentileCont, DatumKind::Interval);
  odd.spec.fraction = 0.333;
  odd.add(Cells().interval(0, 1, 1000000)).add(Cells().interval(-1, 0, kHour));
  CHECK(odd.result() == "-1 mons +10 days 08:25:08.733");
  Agg mixed(K::PercentileCont, DatumKind::Interval);
  mixed.add(Cells().interval(1, 0, 0)).add(Cells().interval(0, 1, 0));
  CHECK(mixed.result() == "16 days -12:00:00");
  mixed.add(Cells().interval(1, 0, 0), -1).add(Cells().interval(0, 1, 0), -1);
  CHECK(mixed.result() == "NULL");
}

TEST_CASE("float aggregates after random retractions equal a fresh evaluation bit for bit", "[aggregates]") {
  // Values spanning 60 orders of magnitude plus NaN and infinities, inserted
  // and retracted at random: the incremental state must give exactly what an
  // accumulator fed only the surviving rows gives (exact sums have no
  // history), so every result is compared as text, not approximately.
  using K = AggregateKind;
  const std::vector<K> kinds = {K::Sum,     K::Avg,       K::VarPop,   K::VarSamp,   K::StddevPop,
                                K::Corr,    K::CovarSamp, K::RegrR2,   K::RegrSlope, K::RegrIntercept,
                                K::RegrSxx, K::RegrSxy,   K::RegrAvgY, K::RegrCount};
  std::mt19937_64 rng(20261125);
  auto value = [&] {
    switch (rng() % 12) {
      case 0: return kInf;
      case 1: return -kInf;
      case 2: return kNaN;
      default: {
        double mantissa = std::uniform_real_distribution<double>(-1, 1)(rng);
        return std::ldexp(mantissa, static_cast<int>(rng() % 200) - 100);
      }
    }
  };
  int compared = 0;
  for (int round = 0; round < 40; ++round) {
    std::vector<std::pair<double, double>> present;
    std::vector<Agg> incremental;
    for (K kind : kinds) incremental.emplace_back(kind, DatumKind::Float8, is_two_argument(kind) ? 1 : -1);
    for (int step = 0; step < 60; ++step) {
      bool retract = !present.empty() && rng() % 3 == 0;
      std::pair<double, double> row;
      if (retract) {
        std::size_t i = rng() % present.size();
        row = present[i];
        present.erase(present.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        row = {value(), value()};
        if (round % 2 == 0 || rng() % 8 != 0)  // even rounds: finite values only
          row = {std::isfinite(row.first) ? row.first : 1.5, std::isfinite(row.second) ? row.second : -2.0};
        present.push_back(row);
      }
      for (Agg& a : incremental) a.add(Cells().f8(row.first).f8(row.second), retract ? -1 : 1);
    }
    for (std::size_t k = 0; k < kinds.size(); ++k) {
      Agg fresh(kinds[k], DatumKind::Float8, is_two_argument(kinds[k]) ? 1 : -1);
      for (auto it = present.rbegin(); it != present.rend(); ++it)
        fresh.add(Cells().f8(it->first).f8(it->second));
      INFO("round " << round << " aggregate #" << k);
      CHECK(incremental[k].result() == fresh.result());
      ++compared;
    }
  }
  CHECK(compared == 40 * 14);
}

TEST_CASE("jsonb_object_agg prints a json value as canonical jsonb", "[aggregates][json]") {
  // SELECT jsonb_object_agg(k, v) FROM (VALUES ('x'::text, '{"b": 1,  "a":2, "aa":
  // [1,2.50,{"z":null,"y":true}],
  //   "b": "\u00e9\n\ud83d\ude00", "c": 1e2, "d": -0, "e": 1E-3}'::json)) t(k,v);
  const char* doc =
      R"({"b": 1,  "a":2, "aa": [1,2.50,{"z":null,"y":true}], "b": "\u00e9\n\ud83d\ude00", "c": 1e2, "d": -0, "e": 1E-3})";
  Cells row;
  row.text("x");
  row.p.push_json(doc);
  Agg j(AggregateKind::JsonbObjectAgg, DatumKind::Text, 1);
  j.add(row);
  CHECK(j.result() ==
        "{\"x\": {\"a\": 2, \"b\": \"\xC3\xA9\\n\xF0\x9F\x98\x80\", \"c\": 100, \"d\": 0, \"e\": 0.001, "
        "\"aa\": [1, 2.50, {\"y\": true, \"z\": null}]}}");
  Agg json(AggregateKind::JsonObjectAgg, DatumKind::Text, 1);  // json copies it
  json.add(row);
  CHECK(json.result() == std::string("{ \"x\" : ") + doc + " }");
  // SELECT '  [ ]'::json::jsonb, '{}'::json::jsonb, '"a\/b\u0001"'::json::jsonb, '-12.5e+1'::jsonb;
  CHECK(jsonb_canonical("  [ ]") == "[]");
  CHECK(jsonb_canonical("{}") == "{}");
  CHECK(jsonb_canonical(R"("a\/b\u0001")") == R"("a/b\u0001")");
  CHECK(jsonb_canonical("-12.5e+1") == "-125");
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "01", "-", "1.", ".5", "\"\\x\"", "tru", "[1] 2"})
    CHECK(sqlstate_of([&] { (void)jsonb_canonical(bad); }) == "22P02");
}

TEST_CASE("numeric div and sqrt agree with independent checks on random values", "[aggregates][numeric]") {
  std::mt19937_64 rng(4242);
  auto random_numeric = [&] {
    std::string digits = std::to_string(rng() % 1000000007ULL) + std::to_string(rng() % 1000);
    std::size_t scale = rng() % (digits.size() + 3);
    std::string text = (rng() % 2 == 0 ? "-" : "") + digits + "e-" + std::to_string(scale);
    return Numeric::parse(text);
  };
  for (int i = 0; i < 300; ++i) {
    // div against div_int (short division, written separately).
    Numeric a = random_numeric();
    auto d = static_cast<std::int64_t>(rng() % 2000001) - 1000000;
    if (d == 0) d = 7;
    INFO(a.to_string() << " / " << d);
    CHECK(a.div(Numeric::from_int(d)).to_string() == a.div_int(d).to_string());
    // sqrt rounds correctly: (r - half)^2 <= x < (r + half)^2, half = 0.5 * 10^-scale.
    Numeric x = random_numeric();
    if (x.negative()) x = Numeric().sub(x);
    Numeric r = x.sqrt();
    Numeric half = Numeric::parse("5e-" + std::to_string(r.dscale() + 1));
    Numeric below = r.sub(half);
    Numeric above = r.add(half);
    INFO("sqrt(" << x.to_string() << ") = " << r.to_string());
    CHECK(below.mul(below).compare(x) <= 0);
    CHECK(above.mul(above).compare(x) > 0);
  }
  // Exactly representable roots and halfway cases round half up.
  CHECK(Numeric::parse("6.25").sqrt_scaled(1).to_string() == "2.5");
  CHECK(Numeric::parse("6.25").sqrt_scaled(0).to_string() == "3");
  CHECK(Numeric::parse("0.0025").sqrt_scaled(1).to_string() == "0.1");
}

TEST_CASE("ExactSum rounds half to even across partials, like math.fsum", "[aggregates]") {
  ExactSum s;
  s.add(1e-16);
  s.add(1.0);
  s.add(1e16);
  CHECK(s.value() == 10000000000000002.0);  // fsum([1e-16, 1, 1e16])
  ExactSum t;
  t.add(1e308);
  CHECK(sqlstate_of([&] { t.add(1e308); }) == "22003");  // 2e308 is past DBL_MAX
  ExactSum u;
  u.add(0.1, 3);
  u.add_product(0.1, 0.1, -2);
  ExactSum w;
  w.add(0.1);
  w.add(0.1);
  w.add(0.1);
  w.add_product(0.1, -0.1);
  w.add_product(-0.1, 0.1);
  CHECK(u.value() == w.value());
}
