// Not a test: `test_replication "[.capture]"` with PGSTREAM_CAPTURE_CORPUS
// set to a directory writes real pgoutput streams there as fuzz seeds
// (fuzz/corpus/pgoutput/), in the fuzz target's frame format: a 2-byte
// big-endian length and one XLogData payload, repeated.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "pgstream/replication/replication_connection.hpp"
#include "pgstream/replication/standby_protocol.hpp"
#include "support/pg_cluster.hpp"

using namespace pgstream;
using namespace pgstream::replication;
using pgstream::testing::PgDatabase;

namespace {

struct PqFree {
  void operator()(char* p) const noexcept { PQfreemem(p); }
};

// Reads payloads until one ends with "probe" message `tag` (blocking libpq).
std::vector<std::string> read_until_tag(ReplicationConnection& connection, std::string_view tag) {
  std::vector<std::string> payloads;
  CopyMessage message;
  for (;;) {
    char* buffer = nullptr;
    const int size = PQgetCopyData(connection.get(), &buffer, 0);
    REQUIRE(size > 0);
    const std::unique_ptr<char, PqFree> owned(buffer);
    parse_copy_message(std::string_view(buffer, static_cast<std::size_t>(size)), message);
    if (message.kind != CopyMessageKind::XLogData) continue;
    payloads.emplace_back(message.payload);
    if (message.payload.find(tag) != std::string_view::npos) {
      // The marker's Commit follows.
      const int next = PQgetCopyData(connection.get(), &buffer, 0);
      REQUIRE(next > 0);
      const std::unique_ptr<char, PqFree> commit(buffer);
      parse_copy_message(std::string_view(buffer, static_cast<std::size_t>(next)), message);
      payloads.emplace_back(message.payload);
      return payloads;
    }
  }
}

void write_frames(const std::string& path, const std::vector<std::string>& payloads, std::size_t from,
                  std::size_t to) {
  std::ofstream out(path, std::ios::binary);
  for (std::size_t i = from; i < to && i < payloads.size(); ++i) {
    const std::string& p = payloads[i];
    const std::size_t size = std::min<std::size_t>(p.size(), 0xFFFF);
    out.put(static_cast<char>(size >> 8U)).put(static_cast<char>(size & 0xFFU));
    out.write(p.data(), static_cast<std::streamsize>(size));
  }
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "capture a real pgoutput stream as fuzz seeds", "[.capture]") {
  const char* dir = std::getenv("PGSTREAM_CAPTURE_CORPUS");  // NOLINT(concurrency-mt-unsafe)
  REQUIRE(dir != nullptr);
  exec(R"sql(
    CREATE TYPE mood AS ENUM ('sad', 'happy');
    CREATE TABLE a (id int PRIMARY KEY, v text, m mood, j jsonb, arr int[]);
    CREATE TABLE f (id int, v text); ALTER TABLE f REPLICA IDENTITY FULL;
    CREATE TABLE big (id int PRIMARY KEY, v text);
    CREATE PUBLICATION pub FOR TABLE a, f, big;
  )sql");
  exec("ALTER SYSTEM SET logical_decoding_work_mem = '64kB'");
  exec("SELECT pg_reload_conf()");
  ReplicationConnection connection(conninfo());
  const CreatedSlot slot = connection.create_slot("cap", SlotLifetime::Permanent);
  const std::vector<std::string> workload = {
      "INSERT INTO a VALUES (1, 'x', 'sad', '{\"k\": [1, null]}', '{1,2}'), (2, NULL, NULL, NULL, NULL)",
      "UPDATE a SET v = 'y' WHERE id = 1",
      "UPDATE a SET id = 3 WHERE id = 2",
      "DELETE FROM a WHERE id = 1",
      "INSERT INTO f VALUES (1, 'a')",
      "UPDATE f SET v = 'b'",
      "DELETE FROM f",
      "SELECT pg_logical_emit_message(false, 'nt', 'hello')",
      "BEGIN; INSERT INTO a VALUES (10, 'm'); SELECT pg_logical_emit_message(true, 'tx', 'payload'); COMMIT",
      "ALTER TABLE a ADD COLUMN extra int",
      "INSERT INTO a VALUES (11, 'n', 'happy', '[]', '{}', 5)",
      "TRUNCATE a, f RESTART IDENTITY",
      "BEGIN; INSERT INTO big SELECT g, 'r' FROM generate_series(1, 3000) g; SAVEPOINT s; "
      "INSERT INTO big SELECT g, 'u' FROM generate_series(3001, 4000) g; ROLLBACK TO s; COMMIT",
      "BEGIN; INSERT INTO big SELECT g, 'gone' FROM generate_series(5001, 8000) g; ROLLBACK",
      "SELECT pg_logical_emit_message(true, 'probe', 'capture-end')",
  };
  for (const std::string& sql : workload) exec(sql);
  connection.start_replication("cap", slot.consistent_point, {"pub"});
  const auto payloads = read_until_tag(connection, "capture-end");
  exec("ALTER SYSTEM RESET logical_decoding_work_mem");
  exec("SELECT pg_reload_conf()");
  // Small seeds: the regular transactions, the head of the first streamed
  // block (it re-sends its Relation messages), and the stream's tail
  // (Stream Stop/Abort/Commit).
  std::size_t first_stream = 0;
  while (first_stream < payloads.size() && payloads[first_stream][0] != 'S') ++first_stream;
  write_frames(std::string(dir) + "/real-dml", payloads, 0, first_stream);
  write_frames(std::string(dir) + "/real-stream-head", payloads, first_stream, first_stream + 80);
  write_frames(std::string(dir) + "/real-stream-tail", payloads,
               payloads.size() - std::min<std::size_t>(payloads.size(), 80), payloads.size());
}
