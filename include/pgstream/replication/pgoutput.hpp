// pgoutput: the messages of PostgreSQL's logical replication protocol
// (versions 1 and 2, as sent by the pgoutput plugin of PostgreSQL 15), and
// the parser that reads one of them from an XLogData payload.
//
// Contract:
// - parse_pgoutput() reads exactly one message. Every length, count and
//   offset is bounds-checked; anything malformed (short, trailing bytes,
//   unknown message or column kind, negative length) throws
//   pgstream::Error(ErrorKind::Protocol). It never reads outside `data`.
// - Strings and column values in a PgOutputMessage are views into `data`:
//   they are valid only while the caller keeps that buffer unchanged.
// - A PgOutputMessage is meant to be reused: parsing into it keeps the
//   capacity of its vectors, so steady-state parsing allocates nothing.
// - Not thread-safe; a message object belongs to one thread.
// Message names and fields follow PostgreSQL's "Logical Replication Message
// Formats" (protocol.sgml).
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "pgstream/common/lsn.hpp"

namespace pgstream::replication {

// The first byte of each message.
enum class MessageType : char {
  Begin = 'B',
  Message = 'M',
  Commit = 'C',
  Origin = 'O',
  Relation = 'R',
  Type = 'Y',
  Insert = 'I',
  Update = 'U',
  Delete = 'D',
  Truncate = 'T',
  StreamStart = 'S',
  StreamStop = 'E',
  StreamCommit = 'c',
  StreamAbort = 'A',
};

// How one column of a tuple was sent: 'n', 'u', 't' or 'b'.
enum class ColumnKind : std::uint8_t {
  Null,            // 'n': SQL NULL
  UnchangedToast,  // 'u': a TOASTed value the UPDATE left unchanged; not sent
  Text,            // 't': the type's text output
  Binary,          // 'b': the type's binary send form
};

struct TupleColumn {
  ColumnKind kind = ColumnKind::Null;
  std::string_view bytes;  // empty unless Text or Binary
};

// Which old row an UPDATE or DELETE carries.
enum class OldTupleKind : std::uint8_t {
  None,  // UPDATE without old values (the key did not change, or REPLICA IDENTITY NOTHING)
  Key,   // 'K': only the replica identity columns; the others are NULL
  Full,  // 'O': the whole old row (REPLICA IDENTITY FULL)
};

// Truncate option bits.
inline constexpr std::uint8_t kTruncateCascade = 1;
inline constexpr std::uint8_t kTruncateRestartIdentity = 2;

// Relation message column flag: part of the replica identity key.
inline constexpr std::uint8_t kColumnFlagKey = 1;

struct RelationMessageColumn {
  std::uint8_t flags = 0;
  std::string_view name;
  std::uint32_t type_oid = 0;
  std::int32_t type_modifier = -1;
};

// One parsed message. Only the fields of `type` are meaningful; the others
// keep stale values from earlier messages (and their capacity).
struct PgOutputMessage {
  MessageType type = MessageType::Begin;
  // The (sub)transaction id carried by messages inside a streamed block
  // (Relation, Type, Insert, Update, Delete, Truncate, transactional
  // Message), and by Stream Start/Commit/Abort; 0 when not sent.
  std::uint32_t xid = 0;

  // Begin, Commit, Stream Commit, Origin.
  Lsn final_lsn;               // Begin: the commit record's LSN
  Lsn commit_lsn;              // Commit, Stream Commit, Origin
  Lsn end_lsn;                 // Commit, Stream Commit: end of the commit record
  std::int64_t timestamp = 0;  // Begin, Commit, Stream Commit: microseconds since 2000-01-01 UTC
  std::uint8_t flags = 0;      // Commit, Stream Commit, Message (bit 1: transactional)

  std::string_view origin_name;  // Origin

  // Relation and Type.
  std::uint32_t relation_oid = 0;   // also Insert, Update, Delete
  std::string_view namespace_name;  // empty means pg_catalog
  std::string_view relation_name;   // Relation: table name; Type: type name
  char replica_identity = 'd';      // 'd', 'n', 'f' or 'i'
  std::vector<RelationMessageColumn> columns;

  // Insert, Update, Delete.
  OldTupleKind old_kind = OldTupleKind::None;
  std::vector<TupleColumn> old_tuple;  // meaningful if old_kind != None
  std::vector<TupleColumn> new_tuple;  // Insert, Update

  // Truncate.
  std::uint8_t truncate_options = 0;
  std::vector<std::uint32_t> truncate_relations;

  // Message (pg_logical_emit_message).
  Lsn message_lsn;
  std::string_view prefix;
  std::string_view content;

  // Stream Start and Stream Abort.
  bool first_segment = false;  // Stream Start
  std::uint32_t subxid = 0;    // Stream Abort: equals xid when the whole transaction aborted

  [[nodiscard]] bool transactional_message() const noexcept { return (flags & 1U) != 0; }
};

// Parses one pgoutput message from `data` (an XLogData payload) into `out`.
// `in_stream` says whether a Stream Start is open: inside a streamed block,
// data messages carry a transaction id before their fields.
// Throws Error(Protocol) on malformed input.
void parse_pgoutput(std::string_view data, bool in_stream, PgOutputMessage& out);

// "Insert", "Stream Commit", ...; "unknown" for other bytes.
[[nodiscard]] std::string_view message_type_name(MessageType type) noexcept;

}  // namespace pgstream::replication
