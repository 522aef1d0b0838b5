#include <catch2/catch.hpp>

#include "pgstream/common/lsn.hpp"
#include "support/pg_cluster.hpp"

using pgstream::Lsn;

TEST_CASE("Lsn parses and prints PostgreSQL's pg_lsn form", "[common][lsn]") {
  CHECK(Lsn::parse("0/0") == Lsn(0));
  CHECK(Lsn::parse("16/B374D848") == Lsn(0x16B374D848ULL));
  CHECK(Lsn::parse("FFFFFFFF/FFFFFFFF") == Lsn(~0ULL));
  CHECK(Lsn(0x16B374D848ULL).to_string() == "16/B374D848");
  CHECK(Lsn(0).to_string() == "0/0");
  CHECK_FALSE(Lsn(0).is_valid());
  CHECK(Lsn(1) < Lsn(2));
  for (const char* bad : {"", "/", "1/", "/1", "1/2/3", "G/0", "100000000/0", "1 /2", "+1/2", "-1/2", "12"}) {
    CAPTURE(bad);
    CHECK_FALSE(Lsn::parse(bad).has_value());
  }
}

TEST_CASE_METHOD(pgstream::testing::PgDatabase, "Lsn's text form equals the server's pg_lsn text",
                 "[common][lsn][pg]") {
  for (const char* text : {"0/0", "0/1", "1/0", "16/B374D848", "FFFFFFFF/FFFFFFFF", "0/ABCDEF"}) {
    const auto lsn = Lsn::parse(text);
    REQUIRE(lsn.has_value());
    CHECK(query_value(std::string("SELECT '") + text + "'::pg_lsn::text") == lsn->to_string());
  }
  const auto current = Lsn::parse(query_value("SELECT pg_current_wal_lsn()"));
  REQUIRE(current.has_value());
  CHECK(query_value("SELECT pg_current_wal_lsn() - '" + current->to_string() + "'::pg_lsn >= 0") == "t");
}
