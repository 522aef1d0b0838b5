// bench_decode: how fast pg_stream turns a real pgoutput stream into
// ChangeBatches, next to pg_recvlogical reading the same slot position (a
// copy of the slot, pg_copy_logical_replication_slot) to /dev/null, in the
// same run on the same throwaway PostgreSQL 15.
//
// Two streams: N inserts and N updates (N = PGSTREAM_BENCH_ROWS, default
// 1,000,000), each written as transactions of 10,000 rows. Each reader
// starts at the slot's start and stops at a marker message committed after
// the workload; each reader runs three times and keeps its best. Our consumer touches every column value, as
// a real one would. Prints a table; the last line is JSON with rows_per_s, baseline_rows_per_s and ratio
// (insert stream) and the update figures.
#include <boost/asio/io_context.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "pgstream/replication/replication_connection.hpp"
#include "pgstream/replication/replication_stream.hpp"
#include "support/pg_cluster.hpp"

using namespace pgstream;
using namespace pgstream::replication;
using pgstream::testing::PgDatabase;

namespace {

constexpr long kRowsPerTransaction = 10'000;
constexpr int kRuns = 3;  // per reader; the best counts

struct Figures {
  long rows = 0;
  double ours_seconds = 0;
  double baseline_seconds = 0;
  std::uint64_t bytes = 0;
  double ours_cpu_seconds = 0;  // our process's CPU time while it decoded
  [[nodiscard]] double ours_rate() const { return static_cast<double>(rows) / ours_seconds; }
  [[nodiscard]] double baseline_rate() const { return static_cast<double>(rows) / baseline_seconds; }
};

long rows_from_env() {
  const char* text = std::getenv("PGSTREAM_BENCH_ROWS");  // NOLINT(concurrency-mt-unsafe)
  return text != nullptr ? std::max(std::atol(text), kRowsPerTransaction) : 1'000'000;
}

double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Our client: from the slot's start to the "bench" marker message.
double run_ours(const PgDatabase& db, const std::string& slot, long expected_rows, std::uint64_t& bytes,
                double& cpu) {
  boost::asio::io_context io;
  long rows = 0;
  std::uint64_t checksum = 0;
  bool done = false;
  ReplicationStream* self = nullptr;
  StreamOptions options{.conninfo = db.conninfo(), .slot = slot, .publications = {"bench"}};
  options.status_interval = std::chrono::milliseconds(1000);
  StreamHandler handler{.on_batch =
                            [&](const ChangeBatch& batch) {
                              for (const Change& change : batch.changes()) {
                                if (change.kind == ChangeKind::Message) done = true;
                                if (change.kind != ChangeKind::Insert && change.kind != ChangeKind::Update)
                                  continue;
                                const TupleView tuple = batch.new_tuple(change);
                                for (std::size_t i = 0; i < tuple.size(); ++i)
                                  checksum += tuple[i].bytes.size();
                                ++rows;
                              }
                              if (batch.last_part()) self->confirm(batch.end_lsn);
                              if (done) io.stop();
                            },
                        .on_error =
                            [&](const Error& e) {
                              std::fprintf(stderr, "bench_decode: %s\n", e.describe().c_str());
                              io.stop();
                            }};
  ReplicationStream stream(io, options, handler);
  self = &stream;
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = cpu_seconds();
  stream.start();
  io.run();
  const double elapsed = seconds_since(start);
  cpu = cpu_seconds() - cpu_start;
  bytes = stream.stats().bytes_received;
  stream.stop();
  if (rows != expected_rows || checksum == 0) {
    std::fprintf(stderr, "bench_decode: decoded %ld rows, expected %ld\n", rows, expected_rows);
    std::exit(2);  // NOLINT(concurrency-mt-unsafe)
  }
  return elapsed;
}

// pg_recvlogical on the copied slot, to /dev/null, up to the marker's LSN.
double run_baseline(const PgDatabase& db, const std::string& slot, Lsn end) {
  const std::filesystem::path log = std::filesystem::temp_directory_path() / "bench_decode_recvlogical.log";
  const std::vector<std::string> args = {"-d",
                                         db.conninfo(),
                                         "--slot",
                                         slot,
                                         "--start",
                                         "-f",
                                         "/dev/null",
                                         "-E",
                                         end.to_string(),
                                         "--no-loop",
                                         "-s",
                                         "1",
                                         "-o",
                                         "proto_version=2",
                                         "-o",
                                         "publication_names=bench",
                                         "-o",
                                         "streaming=on",
                                         "-o",
                                         "messages=true"};
  const auto start = std::chrono::steady_clock::now();
  const int status = db.cluster().run_tool("pg_recvlogical", args, log);
  const double elapsed = seconds_since(start);
  if (status != 0) {
    std::fprintf(stderr, "bench_decode: pg_recvlogical exited with %d (see %s)\n", status, log.c_str());
    std::exit(2);  // NOLINT(concurrency-mt-unsafe)
  }
  return elapsed;
}

// Creates the slot, runs `workload`, commits a marker, copies the slot, then
// measures both readers on the same stream, kRuns times each in alternating
// order (ours, pg_recvlogical, pg_recvlogical, ours, ...) and keeps each
// one's best, so that neither gains from its place in the sequence.
template <typename Workload>
Figures measure(PgDatabase& db, const std::string& name, long rows, Workload workload) {
  {
    ReplicationConnection connection(db.conninfo());
    (void)connection.create_slot(name, SlotLifetime::Permanent);
  }
  workload();
  db.exec("SELECT pg_logical_emit_message(true, 'bench', 'end')");
  const Lsn end = *Lsn::parse(db.query_value("SELECT pg_current_wal_lsn()"));
  db.exec("CHECKPOINT");  // not during the runs
  for (int i = 1; i < 2 * kRuns; ++i) {
    db.exec("SELECT pg_copy_logical_replication_slot('" + name + "', '" + name + "_" + std::to_string(i) +
            "')");
  }
  Figures figures;
  figures.rows = rows;
  figures.baseline_seconds = 1e9;
  figures.ours_seconds = 1e9;
  std::string timings;
  for (int i = 0; i < 2 * kRuns; ++i) {
    const std::string slot = i == 0 ? name : name + "_" + std::to_string(i);
    const bool ours = (i % 4 == 0 || i % 4 == 3);  // ours, theirs, theirs, ours, ...
    double cpu = 0;
    const double seconds = ours ? run_ours(db, slot, rows, figures.bytes, cpu) : run_baseline(db, slot, end);
    timings +=
        std::string(ours ? " ours " : " pg_recvlogical ") + std::to_string(seconds).substr(0, 5) + " s";
    if (ours && seconds < figures.ours_seconds) {
      figures.ours_seconds = seconds;
      figures.ours_cpu_seconds = cpu;
    }
    if (!ours) figures.baseline_seconds = std::min(figures.baseline_seconds, seconds);
  }
  std::fprintf(stderr, "bench_decode: %s:%s\n", name.c_str(), timings.c_str());
  return figures;
}

void insert_rows(PgDatabase& db, long first, long count) {
  for (long from = first; from < first + count; from += kRowsPerTransaction) {
    db.exec("INSERT INTO items SELECT g, g % 1000, 'item number ' || g, now() FROM generate_series(" +
            std::to_string(from) + ", " + std::to_string(from + kRowsPerTransaction - 1) + ") g");
  }
}

// One transaction of `rows` inserts, which the server streams while in
// progress: our spool must hold it within its memory limit (spilling the
// rest) and the process's peak RSS must stay bounded.
void huge_transaction(PgDatabase& db, long rows) {
  db.exec("CREATE TABLE huge (id bigint PRIMARY KEY, label text)");
  db.exec("CREATE PUBLICATION huge_pub FOR TABLE huge");
  {
    ReplicationConnection connection(db.conninfo());
    (void)connection.create_slot("huge", SlotLifetime::Permanent);
  }
  db.exec("INSERT INTO huge SELECT g, 'a label of some length ' || g FROM generate_series(1, " +
          std::to_string(rows) + ") g");
  db.exec("SELECT pg_logical_emit_message(true, 'bench', 'end')");
  boost::asio::io_context io;
  long seen = 0;
  bool streamed = false;
  StreamOptions options{.conninfo = db.conninfo(), .slot = "huge", .publications = {"huge_pub"}};
  ReplicationStream stream(io, options,
                           StreamHandler{.on_batch =
                                             [&](const ChangeBatch& batch) {
                                               seen += static_cast<long>(batch.row_count());
                                               streamed = streamed || batch.streamed;
                                               for (const Change& change : batch.changes()) {
                                                 if (change.kind == ChangeKind::Message) io.stop();
                                               }
                                             },
                                         .on_error =
                                             [&](const Error& e) {
                                               std::fprintf(stderr, "bench_decode: %s\n",
                                                            e.describe().c_str());
                                               io.stop();
                                             }});
  const auto start = std::chrono::steady_clock::now();
  stream.start();
  io.run();
  const double elapsed = seconds_since(start);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto& spool = stream.decoder().spool_stats();
  std::printf(
      "huge transaction: %ld rows (streamed: %s) in %.1f s, spool peak %.1f MB, spilled %.1f MB, "
      "peak RSS %.1f MB\n",
      seen, streamed ? "yes" : "no", elapsed, static_cast<double>(spool.peak_memory_bytes) / 1e6,
      static_cast<double>(spool.spilled_bytes) / 1e6, static_cast<double>(usage.ru_maxrss) / 1e3);
  stream.stop();
}

void print_row(const char* stream, const Figures& f) {
  std::printf("%-8s %10ld %14.0f %20.0f %8.2f %12.1f %9.0f%%\n", stream, f.rows, f.ours_rate(),
              f.baseline_rate(), f.ours_rate() / f.baseline_rate(), static_cast<double>(f.bytes) / 1e6,
              100.0 * f.ours_cpu_seconds / f.ours_seconds);
}

}  // namespace

int main() {
  pgstream::testing::install_cluster_guard();
  const long rows = rows_from_env();
  if (const char* huge = std::getenv("PGSTREAM_BENCH_HUGE_ROWS")) {  // NOLINT(concurrency-mt-unsafe)
    PgDatabase db;                                                   // first, so that peak RSS is its own
    huge_transaction(db, std::atol(huge));
  }
  Figures inserts;
  Figures updates;
  {
    PgDatabase db;
    db.exec("CREATE TABLE items (id bigint PRIMARY KEY, grp int, label text, at timestamptz)");
    db.exec("ALTER TABLE items SET (autovacuum_enabled = false)");  // no vacuum competing for the CPU
    db.exec("CREATE PUBLICATION bench FOR TABLE items");
    inserts = measure(db, "bench_ins", rows, [&] { insert_rows(db, 1, rows); });
    updates = measure(db, "bench_upd", rows, [&] {
      for (long from = 1; from <= rows; from += kRowsPerTransaction) {
        db.exec("UPDATE items SET grp = grp + 1 WHERE id BETWEEN " + std::to_string(from) + " AND " +
                std::to_string(from + kRowsPerTransaction - 1));
      }
    });
  }
  std::printf("%-8s %10s %14s %20s %8s %12s %10s\n", "stream", "rows", "ours rows/s", "pg_recvlogical rows/s",
              "ratio", "MB received", "our CPU");
  print_row("insert", inserts);
  print_row("update", updates);
  std::printf(
      "{\"rows\": %ld, \"rows_per_s\": %.0f, \"baseline_rows_per_s\": %.0f, \"ratio\": %.3f, "
      "\"update_rows_per_s\": %.0f, \"update_baseline_rows_per_s\": %.0f, \"update_ratio\": %.3f}\n",
      rows, inserts.ours_rate(), inserts.baseline_rate(), inserts.ours_rate() / inserts.baseline_rate(),
      updates.ours_rate(), updates.baseline_rate(), updates.ours_rate() / updates.baseline_rate());
  pgstream::testing::shutdown_shared_cluster();
  return 0;
}
