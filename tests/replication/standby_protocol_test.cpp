// XLogData, keepalive and standby status update encoding.
#include <catch2/catch.hpp>

#include "pgstream/common/error.hpp"
#include "pgstream/replication/standby_protocol.hpp"
#include "wire_builder.hpp"

using namespace pgstream::replication;
using pgstream::replication::testing::Wire;

TEST_CASE("standby protocol: XLogData and keepalive", "[standby]") {
  CopyMessage m;
  const Wire w = Wire().ch('w').u64(0x100).u64(0x200).i64(5).raw("Bpayload");
  parse_copy_message(w, m);
  CHECK(m.kind == CopyMessageKind::XLogData);
  CHECK(m.wal_start.value() == 0x100);
  CHECK(m.wal_end.value() == 0x200);
  CHECK(m.payload == "Bpayload");
  const Wire k = Wire().ch('k').u64(0x300).i64(6).u8(1);
  parse_copy_message(k, m);
  CHECK(m.kind == CopyMessageKind::Keepalive);
  CHECK(m.wal_end.value() == 0x300);
  CHECK(m.reply_requested);
  for (std::size_t n = 0; n < k.bytes().size(); ++n) {
    CHECK_THROWS_AS(parse_copy_message(std::string_view(k.bytes()).substr(0, n), m), pgstream::Error);
  }
  CHECK_THROWS_AS(parse_copy_message(Wire().ch('w').u64(1), m), pgstream::Error);
  CHECK_THROWS_AS(parse_copy_message(Wire().ch('x'), m), pgstream::Error);
}

TEST_CASE("standby protocol: status update bytes", "[standby]") {
  const auto bytes =
      encode_status_update(pgstream::Lsn(0x0102030405060708), pgstream::Lsn(2), pgstream::Lsn(3), -1, true);
  const Wire expected = Wire().ch('r').u64(0x0102030405060708).u64(2).u64(3).i64(-1).u8(1);
  CHECK(std::string_view(bytes.data(), bytes.size()) == expected.bytes());
  CHECK(pg_now() > 0);
}
