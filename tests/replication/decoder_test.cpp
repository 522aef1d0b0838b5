// Transaction assembly on hand-built message sequences: regular and
// streamed transactions, parts, aborts of whole transactions and of
// subtransactions, spilling, skipping, schema-change events and the
// protocol-order errors.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/replication/decoder.hpp"
#include "wire_builder.hpp"

using namespace pgstream::replication;
using namespace pgstream::replication::testing;

namespace {

constexpr std::uint32_t kOid = 16384;

// What a test keeps of each delivered part.
struct Seen {
  std::uint32_t xid;
  std::uint64_t commit_lsn;
  std::uint64_t end_lsn;
  std::uint32_t part;
  bool last;
  bool streamed;
  std::vector<std::string> changes;  // "I:1,a" "U:..." "S:bits" "M:prefix=content" "T:oid/opts"
};

std::string describe_tuple(const TupleView& tuple) {
  std::string out;
  for (std::size_t i = 0; i < tuple.size(); ++i) {
    if (i != 0) out += ',';
    const ColumnValue v = tuple[i];
    out += v.is_null() ? "NULL" : v.is_unchanged_toast() ? "TOAST" : std::string(v.bytes);
  }
  return out;
}

std::string describe(const ChangeBatch& batch, const Change& c) {
  switch (c.kind) {
    case ChangeKind::Insert: return "I:" + describe_tuple(batch.new_tuple(c));
    case ChangeKind::Update:
      return "U:" +
             (c.old_kind == OldTupleKind::None ? std::string() : describe_tuple(batch.old_tuple(c)) + ">") +
             describe_tuple(batch.new_tuple(c));
    case ChangeKind::Delete: return "D:" + describe_tuple(batch.old_tuple(c));
    case ChangeKind::Truncate:
      return "T:" + std::to_string(c.relation->oid) + "/" + std::to_string(c.truncate_options);
    case ChangeKind::Message:
      return "M:" + std::string(batch.message_prefix(c)) + "=" + std::string(batch.message_content(c));
    case ChangeKind::SchemaChange: return "S:" + std::to_string(batch.schema_change(c).what);
  }
  return "?";
}

struct Harness {
  std::vector<Seen> seen;
  Decoder decoder;

  explicit Harness(DecoderOptions options = {})
      : decoder(std::move(options), [this](const ChangeBatch& b) {
          Seen s{b.xid, b.commit_lsn.value(), b.end_lsn.value(), b.part(), b.last_part(), b.streamed, {}};
          for (const Change& c : b.changes()) s.changes.push_back(describe(b, c));
          seen.push_back(std::move(s));
        }) {}

  void feed(const std::string& m) { decoder.decode(m); }
  void relation(const std::uint32_t* xid = nullptr) {
    feed(relation_msg(kOid, "public", "t", 'd', {{"id", 23, true}, {"v", 25}}, xid));
  }
  void insert(int id, const std::uint32_t* xid = nullptr) {
    feed(insert_msg(kOid, {{'t', std::to_string(id)}, {'t', "v" + std::to_string(id)}}, xid));
  }
};

bool protocol_error(Harness& h, const std::string& m) {
  try {
    h.feed(m);
  } catch (const pgstream::Error& e) {
    return e.kind() == pgstream::ErrorKind::Protocol;
  }
  return false;
}

}  // namespace

TEST_CASE("decoder: a regular transaction, with its schema event first", "[decoder]") {
  Harness h;
  h.feed(begin_msg(100, 0, 7));
  h.relation();
  h.insert(1);
  Wire u;
  u.ch('U').u32(kOid).ch('K');
  tuple(u, {{'t', "1"}, {'n', ""}}).ch('N');
  tuple(u, {{'t', "2"}, {'u', ""}});
  h.feed(u.bytes());
  Wire d;
  d.ch('D').u32(kOid).ch('K');
  tuple(d, {{'t', "2"}, {'n', ""}});
  h.feed(d.bytes());
  h.feed(Wire().ch('M').u8(1).u64(90).str("p").i32(1).raw("x").bytes());
  h.feed(Wire().ch('T').i32(1).u8(kTruncateCascade).u32(kOid).bytes());
  CHECK(h.seen.empty());
  h.feed(commit_msg(100, 120, 0));
  REQUIRE(h.seen.size() == 1);
  const Seen& s = h.seen[0];
  CHECK(s.xid == 7);
  CHECK(s.commit_lsn == 100);
  CHECK(s.end_lsn == 120);
  CHECK(s.last);
  CHECK_FALSE(s.streamed);
  CHECK(s.changes ==
        std::vector<std::string>{"S:1", "I:1,v1", "U:1,NULL>2,TOAST", "D:2,NULL", "M:p=x", "T:16384/1"});
  CHECK(h.decoder.last_end_lsn().value() == 120);
  CHECK(h.decoder.between_transactions());
  CHECK(h.decoder.stats().rows == 3);
}

TEST_CASE("decoder: columns carry the relation's types; values survive the batch arena growing",
          "[decoder]") {
  std::vector<std::string> values;
  Decoder decoder({}, [&](const ChangeBatch& b) {
    for (const Change& c : b.changes()) {
      if (c.kind != ChangeKind::Insert) continue;
      const ColumnValue v = b.new_tuple(c)[1];
      CHECK(v.type_oid == 25);
      values.emplace_back(v.bytes);
    }
  });
  decoder.decode(begin_msg(100, 0, 7));
  decoder.decode(relation_msg(kOid, "public", "t", 'd', {{"id", 23, true}, {"v", 25}}));
  for (int i = 0; i < 1000; ++i) {
    decoder.decode(insert_msg(
        kOid, {{'t', std::to_string(i)}, {'t', std::string(100, static_cast<char>('a' + i % 26))}}));
  }
  decoder.decode(commit_msg(100, 120, 0));
  REQUIRE(values.size() == 1000);
  CHECK(values[999] == std::string(100, static_cast<char>('a' + 999 % 26)));
}

TEST_CASE("decoder: a large transaction is delivered in parts", "[decoder]") {
  DecoderOptions options;
  options.max_part_changes = 2;
  Harness h(options);
  h.feed(begin_msg(100, 0, 7));
  h.relation();
  for (int i = 0; i < 5; ++i) h.insert(i);
  h.feed(commit_msg(100, 120, 0));
  REQUIRE(h.seen.size() == 3);
  CHECK(h.seen[0].part == 0);
  CHECK(h.seen[0].changes == std::vector<std::string>{"S:1", "I:0,v0"});
  CHECK_FALSE(h.seen[0].last);
  CHECK(h.seen[0].end_lsn == 0);
  CHECK(h.seen[2].part == 2);
  CHECK(h.seen[2].last);
  CHECK(h.seen[2].end_lsn == 120);
  CHECK(h.seen[2].changes == std::vector<std::string>{"I:3,v3", "I:4,v4"});
}

TEST_CASE("decoder: streamed transactions are held until Stream Commit, in commit order", "[decoder]") {
  Harness h;
  const std::uint32_t x1 = 500;
  const std::uint32_t x2 = 501;
  h.feed(stream_start_msg(x1, true));
  h.relation(&x1);
  h.insert(1, &x1);
  h.feed(stream_stop_msg());
  h.feed(stream_start_msg(x2, true));
  h.relation(&x2);
  h.insert(2, &x2);
  h.feed(stream_stop_msg());
  // A regular transaction in between.
  h.feed(begin_msg(200, 0, 9));
  h.relation();
  h.insert(3);
  h.feed(commit_msg(200, 210, 0));
  h.feed(stream_start_msg(x1, false));
  h.insert(4, &x1);
  h.feed(stream_stop_msg());
  CHECK_FALSE(h.decoder.between_transactions() == false);
  h.feed(stream_abort_msg(x2, x2));
  h.feed(stream_commit_msg(x1, 300, 310, 0));
  REQUIRE(h.seen.size() == 2);
  CHECK(h.seen[0].xid == 9);
  CHECK(h.seen[0].changes == std::vector<std::string>{"S:1", "I:3,v3"});
  CHECK(h.seen[1].xid == x1);
  CHECK(h.seen[1].streamed);
  CHECK(h.seen[1].end_lsn == 310);
  CHECK(h.seen[1].changes == std::vector<std::string>{"I:1,v1", "I:4,v4"});
  CHECK(h.decoder.stats().aborted_transactions == 1);
  CHECK(h.decoder.spool_stats().open_transactions == 0);
}

TEST_CASE("decoder: an aborted subtransaction leaves no trace", "[decoder]") {
  Harness h;
  const std::uint32_t top = 600;
  const std::uint32_t sub = 601;
  const std::uint32_t sub2 = 602;
  h.feed(stream_start_msg(top, true));
  h.relation(&top);
  h.insert(1, &top);
  h.insert(2, &sub);
  h.insert(3, &sub2);
  h.feed(stream_stop_msg());
  h.feed(stream_abort_msg(top, sub));
  h.feed(stream_start_msg(top, false));
  h.insert(4, &top);
  h.feed(stream_stop_msg());
  h.feed(stream_commit_msg(top, 700, 710, 0));
  REQUIRE(h.seen.size() == 1);
  CHECK(h.seen[0].changes == std::vector<std::string>{"S:1", "I:1,v1", "I:3,v3", "I:4,v4"});
}

TEST_CASE("decoder: a streamed transaction beyond the memory bound spills and replays whole", "[decoder]") {
  DecoderOptions options;
  options.spool.memory_limit = 4096;
  options.max_part_changes = 1000;
  std::size_t rows = 0;
  std::size_t parts = 0;
  int next = 0;
  Decoder decoder(options, [&](const ChangeBatch& b) {
    ++parts;
    for (const Change& c : b.changes()) {
      if (c.kind != ChangeKind::Insert) continue;
      CHECK(b.new_tuple(c)[0].bytes == std::to_string(next));
      ++next;
      ++rows;
    }
  });
  const std::uint32_t xid = 900;
  decoder.decode(stream_start_msg(xid, true));
  decoder.decode(relation_msg(kOid, "public", "t", 'd', {{"id", 23, true}, {"v", 25}}, &xid));
  for (int i = 0; i < 20000; ++i) {
    decoder.decode(insert_msg(kOid, {{'t', std::to_string(i)}, {'t', "some text"}}, &xid));
  }
  decoder.decode(stream_stop_msg());
  CHECK(decoder.spool_stats().peak_memory_bytes <= 4096 + 64);
  CHECK(decoder.spool_stats().spilled_bytes > 100'000);
  decoder.decode(stream_commit_msg(xid, 1000, 1010, 0));
  CHECK(rows == 20000);
  CHECK(parts == 21);
  CHECK(decoder.spool_stats().memory_bytes == 0);
}

TEST_CASE("decoder: transactions committed before skip_before are not delivered", "[decoder]") {
  Harness h;
  h.decoder.set_skip_before(pgstream::Lsn(150));
  h.feed(begin_msg(100, 0, 7));
  h.relation();
  h.insert(1);
  h.feed(commit_msg(100, 120, 0));
  CHECK(h.seen.empty());
  CHECK(h.decoder.last_end_lsn().value() == 120);
  h.feed(begin_msg(200, 0, 8));
  h.insert(2);
  h.feed(commit_msg(200, 220, 0));
  REQUIRE(h.seen.size() == 1);
  // The relation event of the skipped transaction comes with the next one.
  CHECK(h.seen[0].changes == std::vector<std::string>{"S:1", "I:2,v2"});
}

TEST_CASE("decoder: Relation messages become schema events only when something changed", "[decoder]") {
  Harness h;
  h.feed(begin_msg(100, 0, 7));
  h.relation();
  h.relation();  // resent: no event
  h.feed(relation_msg(kOid, "public", "t", 'd', {{"id", 23, true}, {"v", 25}, {"w", 20}}));
  h.feed(relation_msg(kOid, "public", "t", 'f', {{"id", 20, true}, {"w", 20}}));
  h.feed(relation_msg(kOid, "app", "t2", 'f', {{"id", 20, true}, {"w", 20}}));
  h.feed(commit_msg(100, 120, 0));
  REQUIRE(h.seen.size() == 1);
  CHECK(h.seen[0].changes ==
        std::vector<std::string>{
            "S:" + std::to_string(kRelationNew), "S:" + std::to_string(kColumnsAdded),
            "S:" + std::to_string(kColumnsDropped | kColumnsRetyped | kReplicaIdentityChanged),
            "S:" + std::to_string(kRelationRenamed)});
}

TEST_CASE("decoder: a non-transactional message is a batch of its own", "[decoder]") {
  Harness h;
  h.feed(Wire().ch('M').u8(0).u64(55).str("hb").i32(2).raw("hi").bytes());
  REQUIRE(h.seen.size() == 1);
  CHECK(h.seen[0].xid == 0);
  CHECK(h.seen[0].commit_lsn == 55);
  CHECK(h.seen[0].changes == std::vector<std::string>{"M:hb=hi"});
}

TEST_CASE("decoder: messages out of protocol order are Protocol errors", "[decoder]") {
  Harness h;
  CHECK(protocol_error(h, commit_msg(1, 2, 0)));
  CHECK(protocol_error(h, insert_msg(kOid, {{'t', "1"}})));
  CHECK(protocol_error(h, stream_stop_msg()));
  h.feed(begin_msg(100, 0, 7));
  CHECK(protocol_error(h, insert_msg(kOid, {{'t', "1"}})));  // no Relation yet
  h.relation();
  CHECK(protocol_error(h, insert_msg(kOid, {{'t', "1"}})));  // 1 column, relation has 2
  CHECK(protocol_error(h, begin_msg(100, 0, 7)));
  CHECK(protocol_error(h, stream_start_msg(1, true)));
  CHECK(protocol_error(h, commit_msg(101, 120, 0)));  // commit LSN differs from Begin
  h.decoder.reset();
  h.feed(stream_start_msg(5, true));
  CHECK(protocol_error(h, begin_msg(100, 0, 7)));
  CHECK(protocol_error(h, stream_commit_msg(5, 1, 2, 0)));
}
