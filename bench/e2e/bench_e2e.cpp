// bench_e2e: the whole path — decode -> engine -> MERGE — of the real
// pgstream binary against a throwaway PostgreSQL 15, for three query
// classes, next to the baselines measured in the same run:
//   (a) filter/project, (b) group-by with count/sum/avg/min/max,
//   (c) a 3-way join with group-by.
// Figures:
// - throughput: the daemon is stopped (SIGSTOP) while W source rows are
//   written, then resumed; rows/s until the table's frontier passes the
//   workload's end. Baseline: pg_recvlogical reading a copy of the daemon's
//   slot to /dev/null up to the same LSN.
// - latency (b): single-row transactions at a fixed offered rate; for each,
//   the time from its COMMIT returning to the table's frontier passing its
//   commit (client-side polling of pgs_stream_tables every 0.5 ms).
// - refresh (b): a 1,000-row change on the 1M-row source; our commit-to-
//   visible time next to REFRESH MATERIALIZED VIEW of the same query.
// - memory (b): the daemon's RSS after loading, against the raw size of the
//   source columns the query uses (pg_column_size).
// - The sources have REPLICA IDENTITY FULL, so that the daemon keeps no
//   copy of their rows (docs/DAEMON.md); the RSS of (b) is also measured
//   with orders' default identity (its primary key), where it does.
// Env: PGSTREAM_BENCH_ORDERS (default 1,000,000 source rows),
// PGSTREAM_BENCH_CHANGES (default 200,000 rows per throughput run),
// PGSTREAM_BENCH_TPS (default 5,000), PGSTREAM_BENCH_SECONDS (default 10),
// PGSTREAM_BENCH_IDENTITY (full, the default, or default),
// PGSTREAM_BENCH_LOG (the daemons' log level, default warn; when set, their
// logs are kept).
// Last line: JSON.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pgstream/common/lsn.hpp"
#include "pgstream/common/pg.hpp"
#include "support/pg_cluster.hpp"

using namespace pgstream;
using pgstream::testing::PgDatabase;
using Clock = std::chrono::steady_clock;

namespace {

long env_long(const char* name, long fallback) {
  const char* text = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return text != nullptr && std::atol(text) > 0 ? std::atol(text) : fallback;
}

std::string env_text(const char* name, const char* fallback) {
  const char* text = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return text != nullptr && *text != '\0' ? text : fallback;
}

bool full_identity() { return env_text("PGSTREAM_BENCH_IDENTITY", "full") == "full"; }

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

[[noreturn]] void fail(const std::string& message) {
  std::fflush(stdout);
  std::fprintf(stderr, "bench_e2e: %s\n", message.c_str());
  std::exit(2);  // NOLINT(concurrency-mt-unsafe)
}

struct QueryClass {
  const char* label;
  const char* table;
  const char* query;
};

const QueryClass kClasses[] = {
    {"(a) filter/project", "st_filter", "SELECT id, customer_id, amount FROM orders WHERE amount > 500"},
    {"(b) group-by", "st_group",
     "SELECT customer_id, count(*) AS n, sum(amount) AS total, avg(amount) AS mean, min(amount) AS lo, "
     "max(amount) AS hi FROM orders GROUP BY customer_id"},
    {"(c) 3-way join + group-by", "st_join",
     "SELECT c.region, p.category, count(*) AS n, sum(o.amount) AS total FROM orders o "
     "JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = o.product_id "
     "GROUP BY c.region, p.category"},
};

// The pgstream binary as a child process, stderr to a log file.
class Daemon {
 public:
  Daemon(const std::filesystem::path& dir, const std::string& conninfo, const std::string& slot,
         const QueryClass& query) {
    config_ = dir / (std::string(query.table) + ".yaml");
    log_ = dir / (std::string(query.table) + ".log");
    std::ofstream out(config_);
    out << "postgres:\n  dsn: \"" << conninfo << "\"\n  slot: " << slot << "\n  publication: bench\n"
        << "metrics:\n  listen: 127.0.0.1:" << pgstream::testing::free_tcp_port() << "\n"
        << "log:\n  level: " << env_text("PGSTREAM_BENCH_LOG", "warn") << "\n"
        << "stream_tables:\n  - name: " << query.table << "\n    query: \"" << query.query << "\"\n";
    out.close();
    pid_ = fork();
    if (pid_ < 0) fail("fork failed");
    if (pid_ == 0) {
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);  // NOLINT
      if (fd >= 0) dup2(fd, 2);
      execl(PGSTREAM_BINARY_PATH, "pgstream", "run", "--config", config_.c_str(), nullptr);
      _exit(127);
    }
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;
  ~Daemon() {
    if (pid_ > 0) {
      kill(pid_, SIGCONT);
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  void signal(int sig) const { kill(pid_, sig); }
  // A line of /proc/PID/status in kB: VmRSS (all resident pages, shared
  // libraries included) or RssAnon (the process's own memory).
  [[nodiscard]] long status_kb(const std::string& field) const {
    std::ifstream status("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
    }
    return 0;
  }
  [[nodiscard]] const std::filesystem::path& log() const { return log_; }
  [[nodiscard]] pid_t pid() const { return pid_; }

 private:
  std::filesystem::path config_;
  std::filesystem::path log_;
  pid_t pid_ = -1;
};

Lsn current_lsn(PgConnection& conn) { return *Lsn::parse(conn.query_value("SELECT pg_current_wal_lsn()")); }

Lsn frontier(PgConnection& conn, const char* table) {
  const std::string text = conn.query_value(
      "SELECT coalesce(frontier_lsn, '0/0')::text FROM pgstream.pgs_stream_tables WHERE pgs_name = '" +
      std::string(table) + "' AND status = 'ACTIVE' UNION ALL SELECT '0/0' LIMIT 1");
  return Lsn::parse(text).value_or(Lsn());
}

// Polls until the table's frontier reaches `lsn`; the time it did.
Clock::time_point wait_frontier(PgConnection& conn, const char* table, Lsn lsn, double timeout_s = 600) {
  const auto start = Clock::now();
  while (frontier(conn, table) < lsn) {
    if (seconds_since(start) > timeout_s) fail(std::string("timed out waiting for ") + table);
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return Clock::now();
}

void wait_active(PgConnection& conn, const Daemon& daemon, const char* table) {
  const auto start = Clock::now();
  // The daemon creates the catalog: until then, nothing to ask.
  while (conn.query_value("SELECT to_regclass('pgstream.pgs_stream_tables') IS NOT NULL") != "t" ||
         conn.query_value("SELECT count(*) FROM pgstream.pgs_stream_tables WHERE pgs_name = '" +
                          std::string(table) + "' AND status = 'ACTIVE' AND is_populated") != "1") {
    if (seconds_since(start) > 600)
      fail("the daemon did not load " + std::string(table) + "; see " + daemon.log().string());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  (void)wait_frontier(conn, table, current_lsn(conn));
}

struct Throughput {
  long rows = 0;
  double ours_s = 0;
  double baseline_s = 0;
  [[nodiscard]] double ours() const { return static_cast<double>(rows) / ours_s; }
  [[nodiscard]] double baseline() const { return static_cast<double>(rows) / baseline_s; }
};

// Half inserts, half updates, in transactions of 1,000 rows.
void write_changes(PgConnection& conn, long rows, long& next_id) {
  for (long done = 0; done < rows; done += 2000) {
    conn.exec(
        "INSERT INTO orders SELECT g, 1 + g % 10000, 1 + g % 997, (g % 1000) * 1.25 FROM generate_series(" +
        std::to_string(next_id) + ", " + std::to_string(next_id + 999) + ") g");
    next_id += 1000;
    const long from = 1 + (done * 7919) % 900'000;
    conn.exec("UPDATE orders SET amount = amount + 1 WHERE id BETWEEN " + std::to_string(from) + " AND " +
              std::to_string(from + 999));
  }
}

Throughput measure_throughput(PgDatabase& db, PgConnection& conn, const Daemon& daemon,
                              const std::string& slot, const QueryClass& query, long rows, long& next_id) {
  daemon.signal(SIGSTOP);
  conn.exec("SELECT pg_copy_logical_replication_slot('" + slot + "', '" + slot + "_copy')");
  write_changes(conn, rows, next_id);
  const Lsn end = current_lsn(conn);
  Throughput figures;
  figures.rows = rows;
  // PGSTREAM_BENCH_PERF=DIR records a CPU profile of the daemon's catch-up.
  pid_t perf = -1;
  if (const char* dir = std::getenv("PGSTREAM_BENCH_PERF")) {  // NOLINT(concurrency-mt-unsafe)
    const std::string out = std::string(dir) + "/" + query.table + ".perf";
    const std::string pid = std::to_string(daemon.pid());
    perf = fork();
    if (perf == 0) {
      execlp("perf", "perf", "record", "-q", "-F", "1999", "-g", "-p", pid.c_str(), "-o", out.c_str(),
             nullptr);
      _exit(127);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  const auto start = Clock::now();
  daemon.signal(SIGCONT);
  figures.ours_s = std::chrono::duration<double>(wait_frontier(conn, query.table, end) - start).count();
  if (perf > 0) {
    kill(perf, SIGINT);
    int status = 0;
    waitpid(perf, &status, 0);
  }

  const std::filesystem::path log = std::filesystem::temp_directory_path() / "bench_e2e_recvlogical.log";
  const std::vector<std::string> args = {"-d",
                                         db.conninfo(),
                                         "--slot",
                                         slot + "_copy",
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
  const auto baseline_start = Clock::now();
  if (db.cluster().run_tool("pg_recvlogical", args, log) != 0)
    fail("pg_recvlogical failed: see " + log.string());
  figures.baseline_s = seconds_since(baseline_start);
  conn.exec("SELECT pg_drop_replication_slot('" + slot + "_copy')");
  return figures;
}

struct Latency {
  double p50_ms = 0;
  double p99_ms = 0;
  double offered_tps = 0;
  double achieved_tps = 0;
  long samples = 0;
};

// Writers commit single-row transactions at the offered rate; every 10th
// records its commit time and an LSN at or after its commit. A monitor
// polls the table's frontier; a sample's latency is the first moment the
// frontier passed its LSN, minus its commit time.
Latency measure_latency(PgDatabase& db, const QueryClass& query, long tps, long seconds) {
  constexpr int kWriters = 4;
  const long per_writer = std::max(1L, tps / kWriters);
  struct Sample {
    Clock::time_point committed;
    Lsn lsn;
  };
  struct Observation {
    Clock::time_point at;
    Lsn frontier;
  };
  std::vector<std::vector<Sample>> samples(kWriters);
  std::vector<Observation> observed;
  std::atomic<long> committed{0};
  std::atomic<bool> done{false};
  std::thread monitor([&] {
    PgConnection watch(db.conninfo());
    Lsn last;
    while (!done.load()) {
      const Lsn now = frontier(watch, query.table);
      if (now != last) observed.push_back({Clock::now(), now});
      last = now;
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
    const auto deadline = Clock::now() + std::chrono::seconds(30);  // until the last sample is visible
    Lsn wanted;
    for (const auto& part : samples) {
      for (const Sample& sample : part) wanted = std::max(wanted, sample.lsn);
    }
    while (last < wanted && Clock::now() < deadline) {
      const Lsn now = frontier(watch, query.table);
      if (now != last) observed.push_back({Clock::now(), now});
      last = now;
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  std::vector<std::thread> writers;
  const auto start = Clock::now();
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      PgConnection conn(db.conninfo());
      std::minstd_rand rng(static_cast<unsigned>(w + 1));
      const auto interval = std::chrono::nanoseconds(1'000'000'000L / per_writer);
      auto next = Clock::now();
      for (long i = 0; seconds_since(start) < static_cast<double>(seconds); ++i) {
        std::this_thread::sleep_until(next);
        next += interval;
        const long id = 1 + static_cast<long>(rng() % 900'000);
        conn.exec("UPDATE orders SET amount = amount + 1 WHERE id = " + std::to_string(id));
        const auto committed_at = Clock::now();
        ++committed;
        if (i % 10 == 0) samples[static_cast<std::size_t>(w)].push_back({committed_at, current_lsn(conn)});
      }
    });
  }
  for (auto& writer : writers) writer.join();
  const double elapsed = seconds_since(start);
  done = true;
  monitor.join();
  std::vector<double> all;
  for (const auto& part : samples) {
    for (const Sample& sample : part) {
      const auto seen = std::find_if(observed.begin(), observed.end(), [&](const Observation& o) {
        return o.frontier >= sample.lsn && o.at >= sample.committed;
      });
      if (seen == observed.end()) fail("a transaction never became visible");
      all.push_back(std::chrono::duration<double, std::milli>(seen->at - sample.committed).count());
    }
  }
  std::sort(all.begin(), all.end());
  Latency figures;
  figures.offered_tps = static_cast<double>(tps);
  figures.achieved_tps = static_cast<double>(committed.load()) / elapsed;
  figures.samples = static_cast<long>(all.size());
  if (!all.empty()) {
    figures.p50_ms = all[all.size() / 2];
    figures.p99_ms = all[std::min(all.size() - 1, all.size() * 99 / 100)];
  }
  return figures;
}

struct Refresh {
  double ours_ms = 0;
  double refresh_ms = 0;
};

// A 1,000-row change: ours (commit to visible) against REFRESH MATERIALIZED
// VIEW of the same query; medians of 5 rounds.
Refresh measure_refresh(PgConnection& conn, const QueryClass& query) {
  conn.exec(std::string("CREATE MATERIALIZED VIEW bench_mv AS ") + query.query);
  std::vector<double> ours;
  std::vector<double> refresh;
  for (int round = 0; round < 5; ++round) {
    const long from = 1 + round * 100'000L;
    conn.exec("UPDATE orders SET amount = amount + 1 WHERE id BETWEEN " + std::to_string(from) + " AND " +
              std::to_string(from + 999));
    const auto committed = Clock::now();
    const Lsn lsn = current_lsn(conn);
    ours.push_back(
        std::chrono::duration<double, std::milli>(wait_frontier(conn, query.table, lsn) - committed).count());
    const auto start = Clock::now();
    conn.exec("REFRESH MATERIALIZED VIEW bench_mv");
    refresh.push_back(seconds_since(start) * 1000);
  }
  std::sort(ours.begin(), ours.end());
  std::sort(refresh.begin(), refresh.end());
  conn.exec("DROP MATERIALIZED VIEW bench_mv");
  return {ours[ours.size() / 2], refresh[refresh.size() / 2]};
}

void load_schema(PgConnection& conn, long orders) {
  conn.exec("CREATE TABLE customers (id int PRIMARY KEY, region text NOT NULL)");
  conn.exec("CREATE TABLE products (id int PRIMARY KEY, category text NOT NULL)");
  conn.exec(
      "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, product_id int NOT NULL, "
      "amount numeric(12,2) NOT NULL)");
  conn.exec("INSERT INTO customers SELECT g, 'region ' || (g % 20) FROM generate_series(1, 10000) g");
  conn.exec("INSERT INTO products SELECT g, 'category ' || (g % 50) FROM generate_series(1, 1000) g");
  for (long from = 1; from <= orders; from += 250'000) {
    conn.exec(
        "INSERT INTO orders SELECT g, 1 + g % 10000, 1 + g % 997, (g % 1000) * 1.25 FROM generate_series(" +
        std::to_string(from) + ", " + std::to_string(std::min(orders, from + 249'999)) + ") g");
  }
  if (full_identity()) {
    for (const char* table : {"customers", "products", "orders"})
      conn.exec(std::string("ALTER TABLE ") + table + " REPLICA IDENTITY FULL");
  }
  conn.exec("VACUUM ANALYZE");
}

double rss_mb(const Daemon& daemon) { return static_cast<double>(daemon.status_kb("VmRSS")) / 1024.0; }
double anon_mb(const Daemon& daemon) { return static_cast<double>(daemon.status_kb("RssAnon")) / 1024.0; }

void run_bench() {
  const long orders = env_long("PGSTREAM_BENCH_ORDERS", 1'000'000);
  const long changes = env_long("PGSTREAM_BENCH_CHANGES", 200'000);
  const long tps = env_long("PGSTREAM_BENCH_TPS", 5'000);
  const long seconds = env_long("PGSTREAM_BENCH_SECONDS", 10);
  PgDatabase db;
  PgConnection conn(db.conninfo());
  std::printf("loading %ld orders...\n", orders);
  std::fflush(stdout);
  load_schema(conn, orders);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("bench_e2e_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  long next_id = orders + 1;

  Throughput throughput[3];
  Latency latency;
  Refresh refresh;
  double rss = 0;
  double anon = 0;         // RssAnon: without the shared libraries' pages
  double rss_default = 0;  // with orders' default replica identity
  double raw_mb = 0;
  for (int c = 0; c < 3; ++c) {
    const QueryClass& query = kClasses[c];
    const std::string slot = std::string("bench_") + query.table;
    Daemon daemon(dir, db.conninfo(), slot, query);
    wait_active(conn, daemon, query.table);
    if (c == 1) {
      rss = rss_mb(daemon);
      anon = anon_mb(daemon);
      raw_mb = std::stod(conn.query_value(
                   "SELECT sum(pg_column_size(customer_id)) + sum(pg_column_size(amount)) FROM orders")) /
               (1024.0 * 1024.0);
    }
    throughput[c] = measure_throughput(db, conn, daemon, slot, query, changes, next_id);
    if (c == 1) {
      latency = measure_latency(db, query, tps, seconds);
      refresh = measure_refresh(conn, query);
    }
    conn.exec("DROP TABLE " + std::string(query.table));
    conn.exec("DELETE FROM pgstream.pgs_stream_tables WHERE pgs_name = '" + std::string(query.table) + "'");
    // The daemon goes with its scope; its slot stays: drop it.
  }
  if (full_identity()) {
    // The same (b) over orders with its default identity: the daemon keeps
    // (id, customer_id, amount) of every row.
    conn.exec("ALTER TABLE orders REPLICA IDENTITY DEFAULT");
    Daemon daemon(dir, db.conninfo(), "bench_default_identity", kClasses[1]);
    wait_active(conn, daemon, kClasses[1].table);
    rss_default = rss_mb(daemon);
  }
  if (std::getenv("PGSTREAM_BENCH_LOG") == nullptr) {  // NOLINT(concurrency-mt-unsafe)
    std::filesystem::remove_all(dir);
  } else {
    std::printf("daemon logs kept in %s\n", dir.c_str());
  }

  std::printf("%-28s %14s %22s %8s\n", "query class", "rows/s", "pg_recvlogical rows/s", "ratio");
  for (int c = 0; c < 3; ++c) {
    std::printf("%-28s %14.0f %22.0f %8.3f\n", kClasses[c].label, throughput[c].ours(),
                throughput[c].baseline(), throughput[c].ours() / throughput[c].baseline());
  }
  std::printf(
      "\n(b) commit-to-visible at %.0f tx/s offered (%.0f achieved, %ld samples): p50 %.2f ms, p99 %.2f ms\n",
      latency.offered_tps, latency.achieved_tps, latency.samples, latency.p50_ms, latency.p99_ms);
  std::printf(
      "(b) 1,000-row change on %ld rows: ours %.2f ms, REFRESH MATERIALIZED VIEW %.2f ms, speedup %.1fx\n",
      orders, refresh.ours_ms, refresh.refresh_ms, refresh.refresh_ms / refresh.ours_ms);
  std::printf(
      "(b) daemon RSS %.1f MB for %ld source rows (REPLICA IDENTITY %s); used source columns %.1f MB "
      "raw; ratio %.2f\n",
      rss, orders, full_identity() ? "FULL" : "DEFAULT", raw_mb, rss / raw_mb);
  std::printf(
      "(b) of which the daemon's own memory (RssAnon, without shared libraries) %.1f MB; ratio %.2f\n", anon,
      anon / raw_mb);
  if (rss_default > 0) {
    std::printf("(b) daemon RSS with orders' default identity (a copy of its rows): %.1f MB; ratio %.2f\n",
                rss_default, rss_default / raw_mb);
  }
  std::printf(
      "{\"bench\":\"e2e\",\"source_rows\":%ld,\"filter_rows_per_s\":%.0f,\"agg_rows_per_s\":%.0f,"
      "\"join_rows_per_s\":%.0f,\"recvlogical_rows_per_s\":%.0f,\"throughput_ratio\":%.3f,"
      "\"filter_ratio\":%.3f,\"join_ratio\":%.3f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"achieved_tps\":%.0f,"
      "\"refresh_ms\":%.2f,\"ours_ms\":%.2f,\"refresh_speedup\":%.1f,\"rss_mb\":%.1f,\"raw_mb\":%.1f,"
      "\"rss_ratio\":%.2f,\"replica_identity\":\"%s\",\"rss_mb_default_identity\":%.1f,"
      "\"rss_ratio_default_identity\":%.2f,\"rss_anon_mb\":%.1f,\"rss_anon_ratio\":%.2f}\n",
      orders, throughput[0].ours(), throughput[1].ours(), throughput[2].ours(), throughput[1].baseline(),
      throughput[1].ours() / throughput[1].baseline(), throughput[0].ours() / throughput[0].baseline(),
      throughput[2].ours() / throughput[2].baseline(), latency.p50_ms, latency.p99_ms, latency.achieved_tps,
      refresh.refresh_ms, refresh.ours_ms, refresh.refresh_ms / refresh.ours_ms, rss, raw_mb, rss / raw_mb,
      full_identity() ? "full" : "default", rss_default > 0 ? rss_default : rss,
      (rss_default > 0 ? rss_default : rss) / raw_mb, anon, anon / raw_mb);
  std::fflush(stdout);
}

}  // namespace

int main() {
  pgstream::testing::install_cluster_guard();
  try {
    run_bench();
  } catch (const std::exception& error) {
    fail(error.what());
  }
  pgstream::testing::shutdown_shared_cluster();
  return 0;
}
