// The harness end to end: a real server, a logical slot with pgoutput, rows
// inserted by SQL and read back over libpq's replication protocol. This test
// speaks the protocol by hand on purpose: it checks the test environment,
// independently of the replication module that it will be compared with.
#include <sys/select.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "pgstream/common/lsn.hpp"
#include "pgstream/common/pg.hpp"
#include "support/pg_cluster.hpp"

using pgstream::Lsn;
using pgstream::PgResult;
using pgstream::testing::PgDatabase;

namespace {

// Big-endian reads over one message; every read is bounds-checked by REQUIRE.
class WireReader {
 public:
  WireReader(const char* data, std::size_t size) : data_(data), size_(size) {}
  std::uint64_t uint(std::size_t bytes) {
    REQUIRE(pos_ + bytes <= size_);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < bytes; ++i) value = (value << 8U) | static_cast<unsigned char>(data_[pos_++]);
    return value;
  }
  char byte() { return static_cast<char>(uint(1)); }
  std::string cstring() {
    std::string out;
    while (true) {
      REQUIRE(pos_ < size_);
      const char c = data_[pos_++];
      if (c == '\0') return out;
      out += c;
    }
  }
  std::string bytes(std::size_t n) {
    REQUIRE(pos_ + n <= size_);
    std::string out(data_ + pos_, n);
    pos_ += n;
    return out;
  }
  [[nodiscard]] bool at_end() const { return pos_ == size_; }

 private:
  const char* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
};

struct Decoded {
  std::vector<char> kinds;                                // pgoutput message types, in order
  std::string relation;                                   // "schema.name" of the last Relation
  std::vector<std::pair<std::string, unsigned>> columns;  // name, type OID
  std::vector<std::vector<std::optional<std::string>>> inserts;
  Lsn commit_end;
};

std::vector<std::optional<std::string>> read_tuple(WireReader& in) {
  const auto ncols = in.uint(2);
  std::vector<std::optional<std::string>> row;
  for (std::uint64_t i = 0; i < ncols; ++i) {
    const char kind = in.byte();
    if (kind == 'n') {
      row.emplace_back(std::nullopt);
    } else {
      REQUIRE(kind == 't');
      row.emplace_back(in.bytes(in.uint(4)));
    }
  }
  return row;
}

void decode_pgoutput(WireReader& in, Decoded& out) {
  const char kind = in.byte();
  out.kinds.push_back(kind);
  switch (kind) {
    case 'B': in.uint(8), in.uint(8), in.uint(4); break;  // final LSN, commit time, xid
    case 'R': {
      in.uint(4);  // relation OID
      out.relation = in.cstring();
      out.relation += "." + in.cstring();
      in.byte();  // replica identity
      const auto ncols = in.uint(2);
      out.columns.clear();
      for (std::uint64_t i = 0; i < ncols; ++i) {
        in.byte();  // flags
        std::string name = in.cstring();
        const auto type = static_cast<unsigned>(in.uint(4));
        in.uint(4);  // typmod
        out.columns.emplace_back(std::move(name), type);
      }
      break;
    }
    case 'I':
      in.uint(4);
      REQUIRE(in.byte() == 'N');
      out.inserts.push_back(read_tuple(in));
      break;
    case 'C':
      in.byte(), in.uint(8);  // flags, commit LSN
      out.commit_end = Lsn(in.uint(8));
      in.uint(8);  // commit time
      break;
    default: FAIL("unexpected pgoutput message " << kind);
  }
  REQUIRE(in.at_end());
}

// Waits (bounded) for the next CopyData message; empty if none came in time.
std::string next_copy_data(PGconn* conn, std::chrono::seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    char* buffer = nullptr;
    const int n = PQgetCopyData(conn, &buffer, 1);
    if (n > 0) {
      std::string message(buffer, static_cast<std::size_t>(n));
      PQfreemem(buffer);
      return message;
    }
    REQUIRE(n == 0);  // -1: the stream ended, -2: an error
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(PQsocket(conn), &readable);
    timeval tv{1, 0};
    REQUIRE(select(PQsocket(conn) + 1, &readable, nullptr, nullptr, &tv) >= 0);
    REQUIRE(PQconsumeInput(conn) == 1);
  }
  return {};
}

void send_standby_status(PGconn* conn, Lsn flushed) {
  std::string message = "r";
  for (int field = 0; field < 3; ++field) {  // write, flush, apply
    for (int shift = 56; shift >= 0; shift -= 8)
      message += static_cast<char>((flushed.value() >> shift) & 0xFFU);
  }
  message.append(8, '\0');  // client clock: not used by the server for progress
  message += '\0';          // no reply requested
  REQUIRE(PQputCopyData(conn, message.data(), static_cast<int>(message.size())) == 1);
  REQUIRE(PQflush(conn) == 0);
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "a pgoutput stream of inserted rows reads back over the replication protocol",
                 "[pg][harness][replication]") {
  exec("CREATE TABLE items (id int PRIMARY KEY, name text)");
  exec("CREATE PUBLICATION harness_pub FOR TABLE items");

  std::unique_ptr<PGconn, pgstream::PgConnDeleter> repl(PQconnectdb(replication_conninfo().c_str()));
  REQUIRE(PQstatus(repl.get()) == CONNECTION_OK);
  PgResult identify(PQexec(repl.get(), "IDENTIFY_SYSTEM"));
  REQUIRE(PQresultStatus(identify.get()) == PGRES_TUPLES_OK);
  REQUIRE(PQnfields(identify.get()) == 4);
  CHECK(std::string(PQgetvalue(identify.get(), 0, 3)) == db_name());

  PgResult slot(
      PQexec(repl.get(), "CREATE_REPLICATION_SLOT harness_slot LOGICAL pgoutput (SNAPSHOT 'nothing')"));
  REQUIRE(PQresultStatus(slot.get()) == PGRES_TUPLES_OK);
  const auto consistent_point = Lsn::parse(PQgetvalue(slot.get(), 0, 1));
  REQUIRE(consistent_point.has_value());

  exec("INSERT INTO items VALUES (1, 'one'), (2, NULL), (3, 'naïve ☃')");

  const std::string start = "START_REPLICATION SLOT harness_slot LOGICAL " + consistent_point->to_string() +
                            " (proto_version '1', publication_names 'harness_pub')";
  PgResult streaming(PQexec(repl.get(), start.c_str()));
  REQUIRE(PQresultStatus(streaming.get()) == PGRES_COPY_BOTH);

  Decoded decoded;
  while (decoded.kinds.empty() || decoded.kinds.back() != 'C') {
    const std::string message = next_copy_data(repl.get(), std::chrono::seconds(30));
    REQUIRE_FALSE(message.empty());
    WireReader in(message.data(), message.size());
    const char type = in.byte();
    if (type == 'k') continue;  // primary keepalive
    REQUIRE(type == 'w');
    in.uint(8), in.uint(8), in.uint(8);  // data start, wal end, server clock
    WireReader payload(message.data() + 25, message.size() - 25);
    decode_pgoutput(payload, decoded);
  }

  CHECK(decoded.kinds == std::vector<char>{'B', 'R', 'I', 'I', 'I', 'C'});
  CHECK(decoded.relation == "public.items");
  CHECK(decoded.columns == std::vector<std::pair<std::string, unsigned>>{{"id", 23U}, {"name", 25U}});
  using Row = std::vector<std::optional<std::string>>;
  REQUIRE(decoded.inserts.size() == 3);
  CHECK(decoded.inserts[0] == Row{"1", "one"});
  CHECK(decoded.inserts[1] == Row{"2", std::nullopt});
  CHECK(decoded.inserts[2] == Row{"3", "naïve ☃"});
  REQUIRE(decoded.commit_end > *consistent_point);

  // Confirming the commit's end moves the slot's confirmed_flush_lsn there.
  send_standby_status(repl.get(), decoded.commit_end);
  const std::string confirmed_sql = "SELECT confirmed_flush_lsn >= '" + decoded.commit_end.to_string() +
                                    "'::pg_lsn FROM pg_replication_slots WHERE slot_name = 'harness_slot'";
  bool confirmed = false;
  for (int i = 0; i < 100 && !confirmed; ++i) {
    confirmed = query_value(confirmed_sql) == "t";
    if (!confirmed) (void)next_copy_data(repl.get(), std::chrono::seconds(0));
    if (!confirmed)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the walsender applies feedback
  }
  CHECK(confirmed);
}
