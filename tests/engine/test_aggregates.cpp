// Dedicated cases for Reduce's aggregates: each result against the text a
// PostgreSQL 15 server printed for the same input (the expected strings
// below were produced by running the queries in the comments), the NULL
// rules, retraction back to empty, and exactness under retraction.
#include <catch2/catch.hpp>
#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/engine/numeric.hpp"
#include "pgstream/engine/operators/aggregate.hpp"

using namespace pgstream::engine;

namespace {

const Collation& kC = c_collation();

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
  auto div = [](const char* a, const char* b) { return Numeric::parse(a).div(Numeric::parse(b)).to_string(); };
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
