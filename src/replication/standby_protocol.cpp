#include "pgstream/replication/standby_protocol.hpp"

#include <chrono>
#include <string>

#include "pgstream/common/big_endian.hpp"
#include "replication/byte_reader.hpp"

namespace pgstream::replication {

void parse_copy_message(std::string_view data, CopyMessage& out) {
  ByteReader in(data, "replication copy message");
  const char kind = static_cast<char>(in.u8("message kind"));
  if (kind == 'w') {
    out.kind = CopyMessageKind::XLogData;
    out.wal_start = Lsn(in.u64("WAL start"));
    out.wal_end = Lsn(in.u64("WAL end"));
    out.send_time = in.i64("send time");
    out.reply_requested = false;
    out.payload = in.bytes(in.remaining(), "payload");
    return;
  }
  if (kind == 'k') {
    out.kind = CopyMessageKind::Keepalive;
    out.wal_end = Lsn(in.u64("WAL end"));
    out.send_time = in.i64("send time");
    out.reply_requested = in.u8("reply flag") != 0;
    out.payload = {};
    in.expect_end();
    return;
  }
  in.fail("unknown message kind byte " + std::to_string(static_cast<unsigned char>(kind)));
}

std::array<char, kStatusUpdateSize> encode_status_update(Lsn write, Lsn flush, Lsn apply,
                                                         std::int64_t send_time,
                                                         bool reply_requested) noexcept {
  std::array<char, kStatusUpdateSize> out{};
  out[0] = 'r';
  store_big_endian<std::uint64_t>(&out[1], write.value());
  store_big_endian<std::uint64_t>(&out[9], flush.value());
  store_big_endian<std::uint64_t>(&out[17], apply.value());
  store_big_endian<std::uint64_t>(&out[25], static_cast<std::uint64_t>(send_time));
  out[33] = reply_requested ? 1 : 0;
  return out;
}

std::int64_t pg_now() noexcept {
  constexpr std::int64_t kPgEpochOffsetMicros = 946'684'800'000'000;
  const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch());
  return now.count() - kPgEpochOffsetMicros;
}

}  // namespace pgstream::replication
