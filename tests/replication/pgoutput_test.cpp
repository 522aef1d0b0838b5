// The pgoutput parser on hand-built messages: every message type of
// protocol v1 and v2, and malformed input (truncated, trailing bytes,
// unknown kinds, absurd counts) rejected with a Protocol error.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/replication/pgoutput.hpp"
#include "wire_builder.hpp"

using namespace pgstream::replication;
using namespace pgstream::replication::testing;
using pgstream::Error;
using pgstream::ErrorKind;

namespace {

PgOutputMessage parse(std::string_view data, bool in_stream = false) {
  PgOutputMessage m;
  parse_pgoutput(data, in_stream, m);
  return m;
}

bool is_protocol_error(std::string_view data, bool in_stream) {
  PgOutputMessage m;
  try {
    parse_pgoutput(data, in_stream, m);
  } catch (const Error& e) {
    return e.kind() == ErrorKind::Protocol;
  }
  return false;
}

std::vector<std::pair<std::string, bool>> every_message() {
  const std::uint32_t xid = 77;
  Wire update_k;
  update_k.ch('U').u32(16384).ch('K');
  tuple(update_k, {{'t', "1"}, {'n', ""}}).ch('N');
  tuple(update_k, {{'t', "2"}, {'u', ""}});
  Wire update_o;
  update_o.ch('U').u32(xid).u32(16384).ch('O');
  tuple(update_o, {{'t', "1"}, {'b', std::string("\x00\x01", 2)}}).ch('N');
  tuple(update_o, {{'t', "2"}, {'t', "x"}});
  Wire del;
  del.ch('D').u32(16384).ch('K');
  tuple(del, {{'t', "1"}, {'n', ""}});
  return {
      {begin_msg(0x16B374D848, 1000, 42), false},
      {commit_msg(0x16B374D848, 0x16B374D900, 1000), false},
      {Wire().ch('O').u64(5).str("origin").bytes(), false},
      {relation_msg(16384, "public", "t", 'd', {{"id", 23, true}, {"v", 25}}), false},
      {relation_msg(16384, "", "t", 'f', {{"id", 23, true}}, &xid), true},
      {Wire().ch('Y').u32(16400).str("public").str("mood").bytes(), false},
      {insert_msg(16384, {{'t', "1"}, {'n', ""}}), false},
      {insert_msg(16384, {{'t', "1"}, {'b', "zz"}}, &xid), true},
      {update_k.bytes(), false},
      {update_o.bytes(), true},
      {del.bytes(), false},
      {Wire().ch('T').i32(2).u8(3).u32(1).u32(2).bytes(), false},
      {Wire().ch('M').u8(1).u64(99).str("pfx").i32(3).raw("abc").bytes(), false},
      {Wire().ch('M').u32(xid).u8(1).u64(99).str("pfx").i32(0).bytes(), true},
      {stream_start_msg(xid, true), false},
      {stream_stop_msg(), true},
      {stream_commit_msg(xid, 10, 20, 30), false},
      {stream_abort_msg(xid, 78), false},
  };
}

}  // namespace

TEST_CASE("pgoutput: Begin and Commit", "[pgoutput]") {
  auto b = parse(begin_msg(0x16B374D848, 1234, 42));
  CHECK(b.type == MessageType::Begin);
  CHECK(b.final_lsn.to_string() == "16/B374D848");
  CHECK(b.timestamp == 1234);
  CHECK(b.xid == 42);
  auto c = parse(commit_msg(0x10, 0x20, 99));
  CHECK(c.type == MessageType::Commit);
  CHECK(c.commit_lsn.value() == 0x10);
  CHECK(c.end_lsn.value() == 0x20);
  CHECK(c.timestamp == 99);
}

TEST_CASE("pgoutput: Relation, with and without a streamed xid", "[pgoutput]") {
  const std::string rel = relation_msg(16384, "public", "orders", 'i', {{"id", 23, true}, {"note", 25}});
  auto r = parse(rel);
  CHECK(r.type == MessageType::Relation);
  CHECK(r.xid == 0);
  CHECK(r.relation_oid == 16384);
  CHECK(r.namespace_name == "public");
  CHECK(r.relation_name == "orders");
  CHECK(r.replica_identity == 'i');
  REQUIRE(r.columns.size() == 2);
  CHECK(r.columns[0].name == "id");
  CHECK(r.columns[0].flags == kColumnFlagKey);
  CHECK(r.columns[1].type_oid == 25);
  CHECK(r.columns[1].type_modifier == -1);
  const std::uint32_t xid = 9;
  const std::string streamed = relation_msg(1, "", "x", 'n', {}, &xid);
  auto s = parse(streamed, true);
  CHECK(s.xid == 9);
  CHECK(s.namespace_name.empty());
  CHECK(s.columns.empty());
  CHECK(is_protocol_error(relation_msg(1, "", "x", 'z', {}), false));
}

TEST_CASE("pgoutput: Insert, Update and Delete tuples", "[pgoutput]") {
  const std::string ins =
      insert_msg(16384, {{'t', "12"}, {'n', ""}, {'u', ""}, {'b', std::string("\0\1", 2)}});
  auto i = parse(ins);
  CHECK(i.type == MessageType::Insert);
  REQUIRE(i.new_tuple.size() == 4);
  CHECK(i.new_tuple[0].kind == ColumnKind::Text);
  CHECK(i.new_tuple[0].bytes == "12");
  CHECK(i.new_tuple[1].kind == ColumnKind::Null);
  CHECK(i.new_tuple[2].kind == ColumnKind::UnchangedToast);
  CHECK(i.new_tuple[3].kind == ColumnKind::Binary);
  CHECK(i.new_tuple[3].bytes == std::string_view("\0\1", 2));

  Wire u;
  u.ch('U').u32(16384).ch('N');
  tuple(u, {{'t', "1"}});
  auto plain = parse(u);
  CHECK(plain.old_kind == OldTupleKind::None);
  CHECK(plain.new_tuple.size() == 1);

  const auto all = every_message();  // kept alive: parsed views point into it
  auto k = parse(all[8].first);
  CHECK(k.old_kind == OldTupleKind::Key);
  CHECK(k.old_tuple[0].bytes == "1");
  CHECK(k.new_tuple[1].kind == ColumnKind::UnchangedToast);
  auto o = parse(all[9].first, true);
  CHECK(o.xid == 77);
  CHECK(o.old_kind == OldTupleKind::Full);
  auto d = parse(all[10].first);
  CHECK(d.type == MessageType::Delete);
  CHECK(d.old_kind == OldTupleKind::Key);
}

TEST_CASE("pgoutput: Truncate, Message, Origin, Type, stream control", "[pgoutput]") {
  auto t = parse(Wire().ch('T').i32(2).u8(kTruncateCascade | kTruncateRestartIdentity).u32(5).u32(6));
  CHECK(t.truncate_relations == std::vector<std::uint32_t>{5, 6});
  CHECK(t.truncate_options == 3);
  const Wire msg = Wire().ch('M').u8(0).u64(99).str("ddl").i32(4).raw(std::string_view("a\0bc", 4));
  auto m = parse(msg);
  CHECK_FALSE(m.transactional_message());
  CHECK(m.prefix == "ddl");
  CHECK(m.content == std::string_view("a\0bc", 4));
  CHECK(m.message_lsn.value() == 99);
  const Wire origin = Wire().ch('O').u64(7).str("node_a");
  auto o = parse(origin);
  CHECK(o.origin_name == "node_a");
  const Wire type = Wire().ch('Y').u32(16400).str("public").str("mood");
  auto y = parse(type);
  CHECK(y.relation_oid == 16400);
  CHECK(y.relation_name == "mood");
  auto s = parse(stream_start_msg(5, true));
  CHECK(s.xid == 5);
  CHECK(s.first_segment);
  CHECK(parse(stream_stop_msg(), true).type == MessageType::StreamStop);
  auto c = parse(stream_commit_msg(5, 10, 20, 30));
  CHECK(c.xid == 5);
  CHECK(c.commit_lsn.value() == 10);
  CHECK(c.end_lsn.value() == 20);
  auto a = parse(stream_abort_msg(5, 6));
  CHECK(a.xid == 5);
  CHECK(a.subxid == 6);
}

TEST_CASE("pgoutput: every truncation of every message is a Protocol error", "[pgoutput]") {
  for (const auto& [bytes, in_stream] : every_message()) {
    CHECK_NOTHROW(parse(bytes, in_stream));
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      INFO("message " << bytes[0] << " cut at " << n);
      CHECK(is_protocol_error(std::string_view(bytes).substr(0, n), in_stream));
    }
    CHECK(is_protocol_error(bytes + "x", in_stream));
  }
}

TEST_CASE("pgoutput: malformed counts, lengths and kinds", "[pgoutput]") {
  CHECK(is_protocol_error("", false));
  CHECK(is_protocol_error("Z", false));
  CHECK(is_protocol_error(Wire().ch('I').u32(1).ch('X').i16(0), false));          // not 'N'
  CHECK(is_protocol_error(Wire().ch('I').u32(1).ch('N').i16(-1), false));         // negative count
  CHECK(is_protocol_error(Wire().ch('I').u32(1).ch('N').i16(30000), false));      // count past the end
  CHECK(is_protocol_error(Wire().ch('I').u32(1).ch('N').i16(1).ch('q'), false));  // unknown kind
  CHECK(is_protocol_error(Wire().ch('I').u32(1).ch('N').i16(1).ch('t').i32(-5), false));
  CHECK(is_protocol_error(Wire().ch('I').u32(1).ch('N').i16(1).ch('t').i32(0x7fffffff), false));
  CHECK(is_protocol_error(Wire().ch('T').i32(0x7fffffff).u8(0), false));
  CHECK(is_protocol_error(Wire().ch('T').i32(-1).u8(0), false));
  CHECK(is_protocol_error(Wire().ch('D').u32(1).ch('N').i16(0), false));
  CHECK(is_protocol_error(Wire().ch('S').u32(1).u8(2), false));
  CHECK(is_protocol_error(Wire().ch('R').u32(1).str("s").raw("no-nul"), false));
  CHECK(is_protocol_error(Wire().ch('M').u8(1).u64(1).str("p").i32(-1), false));
}
