// The messages of the streaming replication protocol's COPY BOTH phase:
// XLogData ('w') and Primary keepalive ('k') from the server, Standby
// status update ('r') from us.
//
// Contract: parse_copy_message() bounds-checks like the pgoutput parser and
// throws Error(ErrorKind::Protocol) on anything malformed or unknown; the
// payload view points into the caller's buffer. Stateless and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "pgstream/common/lsn.hpp"

namespace pgstream::replication {

enum class CopyMessageKind : char {
  XLogData = 'w',
  Keepalive = 'k',
};

struct CopyMessage {
  CopyMessageKind kind = CopyMessageKind::XLogData;
  Lsn wal_start;                 // XLogData: where the payload's WAL starts
  Lsn wal_end;                   // the server's current end of WAL (sent position)
  std::int64_t send_time = 0;    // microseconds since 2000-01-01 UTC
  bool reply_requested = false;  // Keepalive: answer at once
  std::string_view payload;      // XLogData: one pgoutput message
};

void parse_copy_message(std::string_view data, CopyMessage& out);

inline constexpr std::size_t kStatusUpdateSize = 34;

// 'r' write flush apply send_time reply_requested.
[[nodiscard]] std::array<char, kStatusUpdateSize> encode_status_update(Lsn write, Lsn flush, Lsn apply,
                                                                       std::int64_t send_time,
                                                                       bool reply_requested) noexcept;

// Now, in PostgreSQL's timestamp representation.
[[nodiscard]] std::int64_t pg_now() noexcept;

}  // namespace pgstream::replication
