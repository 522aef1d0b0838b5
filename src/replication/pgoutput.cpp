#include "pgstream/replication/pgoutput.hpp"

#include <string>

#include "replication/byte_reader.hpp"

namespace pgstream::replication {

namespace {

// Guards vector growth from a count read off the wire: every column or
// relation takes at least one byte, so a count larger than what is left is
// malformed and must not reserve memory.
void check_count(const ByteReader& in, std::size_t count, std::size_t min_bytes_each, const char* what) {
  if (count * min_bytes_each > in.remaining()) {
    in.fail(std::string(what) + " count " + std::to_string(count) + " exceeds the message");
  }
}

void read_tuple(ByteReader& in, std::vector<TupleColumn>& out) {
  const std::int16_t count = in.i16("TupleData column count");
  if (count < 0) in.fail("negative TupleData column count");
  check_count(in, static_cast<std::size_t>(count), 1, "TupleData column");
  out.resize(static_cast<std::size_t>(count));
  for (TupleColumn& column : out) {
    const char kind = static_cast<char>(in.u8("TupleData column kind"));
    switch (kind) {
      case 'n': column = {ColumnKind::Null, {}}; break;
      case 'u': column = {ColumnKind::UnchangedToast, {}}; break;
      case 't': column = {ColumnKind::Text, in.counted_bytes("text column value")}; break;
      case 'b': column = {ColumnKind::Binary, in.counted_bytes("binary column value")}; break;
      default:
        in.fail("unknown TupleData column kind byte " + std::to_string(static_cast<unsigned char>(kind)));
    }
  }
}

void read_stream_xid(ByteReader& in, bool in_stream, PgOutputMessage& out) {
  out.xid = in_stream ? in.u32("transaction id") : 0;
}

void parse_begin(ByteReader& in, PgOutputMessage& out) {
  out.final_lsn = Lsn(in.u64("final LSN"));
  out.timestamp = in.i64("commit timestamp");
  out.xid = in.u32("transaction id");
}

void parse_commit(ByteReader& in, PgOutputMessage& out) {
  out.flags = in.u8("flags");
  out.commit_lsn = Lsn(in.u64("commit LSN"));
  out.end_lsn = Lsn(in.u64("end LSN"));
  out.timestamp = in.i64("commit timestamp");
}

void parse_relation(ByteReader& in, bool in_stream, PgOutputMessage& out) {
  read_stream_xid(in, in_stream, out);
  out.relation_oid = in.u32("relation OID");
  out.namespace_name = in.cstring("namespace");
  out.relation_name = in.cstring("relation name");
  out.replica_identity = static_cast<char>(in.u8("replica identity"));
  const char ri = out.replica_identity;
  if (ri != 'd' && ri != 'n' && ri != 'f' && ri != 'i') in.fail("unknown replica identity setting");
  const std::int16_t count = in.i16("column count");
  if (count < 0) in.fail("negative column count");
  check_count(in, static_cast<std::size_t>(count), 10, "column");
  out.columns.resize(static_cast<std::size_t>(count));
  for (RelationMessageColumn& column : out.columns) {
    column.flags = in.u8("column flags");
    column.name = in.cstring("column name");
    column.type_oid = in.u32("column type OID");
    column.type_modifier = in.i32("column type modifier");
  }
}

void parse_type(ByteReader& in, bool in_stream, PgOutputMessage& out) {
  read_stream_xid(in, in_stream, out);
  out.relation_oid = in.u32("type OID");
  out.namespace_name = in.cstring("namespace");
  out.relation_name = in.cstring("type name");
}

void parse_insert(ByteReader& in, bool in_stream, PgOutputMessage& out) {
  read_stream_xid(in, in_stream, out);
  out.relation_oid = in.u32("relation OID");
  if (in.u8("new tuple marker") != 'N') in.fail("expected 'N' before the new tuple");
  out.old_kind = OldTupleKind::None;
  read_tuple(in, out.new_tuple);
}

// Reads the optional 'K'/'O' old tuple and returns the next marker byte.
std::uint8_t read_old_tuple(ByteReader& in, PgOutputMessage& out) {
  std::uint8_t marker = in.u8("tuple marker");
  out.old_kind = OldTupleKind::None;
  if (marker == 'K' || marker == 'O') {
    out.old_kind = marker == 'K' ? OldTupleKind::Key : OldTupleKind::Full;
    read_tuple(in, out.old_tuple);
    marker = in.u8("new tuple marker");
  }
  return marker;
}

void parse_update(ByteReader& in, bool in_stream, PgOutputMessage& out) {
  read_stream_xid(in, in_stream, out);
  out.relation_oid = in.u32("relation OID");
  if (read_old_tuple(in, out) != 'N') in.fail("expected 'N' before the new tuple");
  read_tuple(in, out.new_tuple);
}

void parse_delete(ByteReader& in, bool in_stream, PgOutputMessage& out) {
  read_stream_xid(in, in_stream, out);
  out.relation_oid = in.u32("relation OID");
  const std::uint8_t marker = in.u8("old tuple marker");
  if (marker != 'K' && marker != 'O') in.fail("expected 'K' or 'O' before the old tuple");
  out.old_kind = marker == 'K' ? OldTupleKind::Key : OldTupleKind::Full;
  read_tuple(in, out.old_tuple);
}

void parse_truncate(ByteReader& in, bool in_stream, PgOutputMessage& out) {
  read_stream_xid(in, in_stream, out);
  const std::int32_t count = in.i32("relation count");
  if (count < 0) in.fail("negative relation count");
  out.truncate_options = in.u8("options");
  check_count(in, static_cast<std::size_t>(count), 4, "relation");
  out.truncate_relations.resize(static_cast<std::size_t>(count));
  for (std::uint32_t& oid : out.truncate_relations) oid = in.u32("relation OID");
}

void parse_message(ByteReader& in, bool in_stream, PgOutputMessage& out) {
  read_stream_xid(in, in_stream, out);
  out.flags = in.u8("flags");
  out.message_lsn = Lsn(in.u64("message LSN"));
  out.prefix = in.cstring("prefix");
  out.content = in.counted_bytes("content");
}

void parse_stream_start(ByteReader& in, PgOutputMessage& out) {
  out.xid = in.u32("transaction id");
  const std::uint8_t first = in.u8("first segment flag");
  if (first > 1) in.fail("first segment flag is neither 0 nor 1");
  out.first_segment = first == 1;
}

void parse_stream_commit(ByteReader& in, PgOutputMessage& out) {
  out.xid = in.u32("transaction id");
  parse_commit(in, out);
}

void parse_stream_abort(ByteReader& in, PgOutputMessage& out) {
  out.xid = in.u32("transaction id");
  out.subxid = in.u32("subtransaction id");
}

void parse_body(ByteReader& in, bool in_stream, PgOutputMessage& out) {
  switch (out.type) {
    case MessageType::Begin: parse_begin(in, out); break;
    case MessageType::Message: parse_message(in, in_stream, out); break;
    case MessageType::Commit: parse_commit(in, out); break;
    case MessageType::Origin:
      out.commit_lsn = Lsn(in.u64("origin commit LSN"));
      out.origin_name = in.cstring("origin name");
      break;
    case MessageType::Relation: parse_relation(in, in_stream, out); break;
    case MessageType::Type: parse_type(in, in_stream, out); break;
    case MessageType::Insert: parse_insert(in, in_stream, out); break;
    case MessageType::Update: parse_update(in, in_stream, out); break;
    case MessageType::Delete: parse_delete(in, in_stream, out); break;
    case MessageType::Truncate: parse_truncate(in, in_stream, out); break;
    case MessageType::StreamStart: parse_stream_start(in, out); break;
    case MessageType::StreamStop: break;
    case MessageType::StreamCommit: parse_stream_commit(in, out); break;
    case MessageType::StreamAbort: parse_stream_abort(in, out); break;
  }
}

bool known_type(char byte) noexcept {
  switch (static_cast<MessageType>(byte)) {
    case MessageType::Begin:
    case MessageType::Message:
    case MessageType::Commit:
    case MessageType::Origin:
    case MessageType::Relation:
    case MessageType::Type:
    case MessageType::Insert:
    case MessageType::Update:
    case MessageType::Delete:
    case MessageType::Truncate:
    case MessageType::StreamStart:
    case MessageType::StreamStop:
    case MessageType::StreamCommit:
    case MessageType::StreamAbort: return true;
  }
  return false;
}

}  // namespace

void parse_pgoutput(std::string_view data, bool in_stream, PgOutputMessage& out) {
  ByteReader in(data, "pgoutput message");
  const char byte = static_cast<char>(in.u8("message type"));
  if (!known_type(byte)) {
    in.fail("unknown message type byte " + std::to_string(static_cast<unsigned char>(byte)));
  }
  out.type = static_cast<MessageType>(byte);
  out.xid = 0;
  parse_body(in, in_stream, out);
  in.expect_end();
}

std::string_view message_type_name(MessageType type) noexcept {
  switch (type) {
    case MessageType::Begin: return "Begin";
    case MessageType::Message: return "Message";
    case MessageType::Commit: return "Commit";
    case MessageType::Origin: return "Origin";
    case MessageType::Relation: return "Relation";
    case MessageType::Type: return "Type";
    case MessageType::Insert: return "Insert";
    case MessageType::Update: return "Update";
    case MessageType::Delete: return "Delete";
    case MessageType::Truncate: return "Truncate";
    case MessageType::StreamStart: return "Stream Start";
    case MessageType::StreamStop: return "Stream Stop";
    case MessageType::StreamCommit: return "Stream Commit";
    case MessageType::StreamAbort: return "Stream Abort";
  }
  return "unknown";
}

}  // namespace pgstream::replication
