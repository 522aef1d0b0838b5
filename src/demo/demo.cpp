#include "pgstream/demo/demo.hpp"

#include <pthread.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "demo/workload.hpp"
#include "pgstream/common/error.hpp"
#include "pgstream/common/pg.hpp"
#include "pgstream/demo/child_process.hpp"
#include "pgstream/demo/local_server.hpp"

namespace pgstream::demo {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kRefresh = std::chrono::seconds(1);
constexpr auto kStartTimeout = std::chrono::seconds(120);

// The columns of each sample stream table, in query order (the target also
// has pgstream's internal __pgs_ columns).
const std::map<std::string_view, std::string_view>& target_columns() {
  static const std::map<std::string_view, std::string_view> columns{
      {"revenue_by_region", "region, orders, revenue, avg_order"},
      {"top_products", "product, orders, revenue"},
      {"order_details", "id, customer, region, product, quantity, amount, status"},
  };
  return columns;
}

// Ctrl-C (or SIGTERM/SIGHUP) while the demo is being set up or is running.
struct Interrupted : std::exception {
  [[nodiscard]] const char* what() const noexcept override { return "interrupted"; }
};

// While the demo runs, SIGINT, SIGTERM and SIGHUP are blocked in every
// thread (the writer inherits the mask) and taken with sigtimedwait() by the
// main thread, which then stops everything in order; SIGPIPE is ignored (a
// closed stdout ends the demo through the stream's error instead).
class SignalScope {
 public:
  SignalScope() {
    sigemptyset(&set_);
    for (const int signo : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set_, signo);
    pthread_sigmask(SIG_BLOCK, &set_, &previous_);
    previous_pipe_ = std::signal(SIGPIPE, SIG_IGN);
  }
  SignalScope(const SignalScope&) = delete;
  SignalScope& operator=(const SignalScope&) = delete;
  ~SignalScope() {
    while (wait(std::chrono::milliseconds(0)) != 0) {
      // a second Ctrl-C during the cleanup: already handled by the first one
    }
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
    std::signal(SIGPIPE, previous_pipe_);
  }

  // Waits at most `timeout` for one of the signals; the signal, or 0.
  int wait(std::chrono::milliseconds timeout) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout);
    const timespec limit{seconds.count(), (timeout - seconds).count() * 1'000'000};
    const int signo = sigtimedwait(&set_, nullptr, &limit);
    return signo > 0 ? signo : 0;
  }
  // Throws Interrupted if one of the signals is pending.
  void check() {
    if (wait(std::chrono::milliseconds(0)) != 0) throw Interrupted();
  }

 private:
  sigset_t set_{};
  sigset_t previous_{};
  void (*previous_pipe_)(int) = SIG_DFL;
};

std::string yaml_quoted(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

fs::path write_config(const LocalServer& server) {
  std::ostringstream y;
  y << "# pgstream demo: the daemon's configuration (see docs/CONFIGURATION.md)\n"
    << "postgres:\n"
    << "  dsn: " << yaml_quoted(server.conninfo() + " application_name=pgstream") << "\n"
    << "writer:\n"
    << "  pool_size: 2\n"
    << "metrics:\n"
    << "  listen: 127.0.0.1:" << free_port() << "\n"
    << "log:\n"
    << "  level: info\n"
    << "stream_tables:\n";
  for (const auto& table : sample_stream_tables()) {
    y << "  - name: " << table.name << "\n    query: |\n";
    std::istringstream lines{std::string(table.query)};
    std::string line;
    while (std::getline(lines, line)) y << "      " << line << "\n";
  }
  fs::path path = server.dir() / "pgstream.yaml";
  std::ofstream file(path);
  file << y.str();
  if (!file.flush()) throw Error(ErrorKind::Io, "cannot write " + path.string());
  return path;
}

// The daemon: `pgstream run` of this very binary. Stopped with SIGTERM (it
// finishes the epoch in flight), killed if that takes longer than 30 s. If
// the demo dies, the kernel SIGKILLs it: the server dies at the same moment,
// and a daemon told to stop without its server retries the epoch in flight
// instead of exiting.
struct DaemonChild {
  ChildProcess process;
  fs::path log;
  DaemonChild() = default;
  DaemonChild(const DaemonChild&) = delete;
  DaemonChild& operator=(const DaemonChild&) = delete;
  ~DaemonChild() { stop(); }
  int stop() noexcept { return process.stop(SIGTERM, std::chrono::seconds(30)); }
};

void start_daemon(DaemonChild& daemon, const LocalServer& server, const fs::path& config) {
  std::error_code error;
  const fs::path self = fs::read_symlink("/proc/self/exe", error);
  if (error)
    throw Error(ErrorKind::Io, "cannot find this program's path (/proc/self/exe): " + error.message());
  daemon.log = server.dir() / "pgstream.log";
  daemon.process =
      ChildProcess({self.string(), "run", "--config", config.string()},
                   {.user = current_user(), .cwd = server.dir(), .log = daemon.log, .death_signal = SIGKILL});
}

std::string cell(const PgResult& result, int row, int column) {
  return PQgetisnull(result.get(), row, column) != 0 ? "" : PQgetvalue(result.get(), row, column);
}

std::vector<std::vector<std::string>> rows_of(const PgResult& result) {
  std::vector<std::vector<std::string>> rows;
  const int count = PQntuples(result.get());
  rows.reserve(static_cast<std::size_t>(count));
  for (int row = 0; row < count; ++row) {
    std::vector<std::string> values;
    values.reserve(static_cast<std::size_t>(PQnfields(result.get())));
    for (int column = 0; column < PQnfields(result.get()); ++column)
      values.push_back(cell(result, row, column));
    rows.push_back(std::move(values));
  }
  return rows;
}

// Polls the catalog until the three stream tables are ACTIVE and populated.
void wait_until_live(DaemonChild& daemon, PgConnection& db, SignalScope& signals) {
  const auto deadline = Clock::now() + kStartTimeout;
  std::string last;
  while (Clock::now() < deadline) {
    if (!daemon.process.running()) {
      throw Error(ErrorKind::Io, "the daemon exited with code " +
                                     std::to_string(*daemon.process.exit_status()) +
                                     " during start-up; its log:\n" + tail_of(daemon.log));
    }
    try {
      const auto rows = rows_of(db.exec(
          "SELECT name, status, is_populated::text, coalesce(last_error, '') FROM pgstream.pgs_status()"));
      int live = 0;
      for (const auto& row : rows) {
        if (row[1] == "ERROR") {
          throw Error(ErrorKind::Internal, "stream table " + row[0] + " failed: " + row[3],
                      {.hint = "This is a bug in the demo or in pgstream; the daemon's log:\n" +
                               tail_of(daemon.log)});
        }
        if (row[1] == "ACTIVE" && row[2] == "true") ++live;
      }
      if (live == static_cast<int>(sample_stream_tables().size())) return;
      last = std::to_string(live) + " of " + std::to_string(sample_stream_tables().size()) + " live";
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::Internal) throw;
      if (PQstatus(db.get()) == CONNECTION_BAD) throw;  // the server is gone
      last = error.message();                           // the catalog does not exist yet
    }
    if (signals.wait(std::chrono::milliseconds(100)) != 0) throw Interrupted();
  }
  throw Error(ErrorKind::Io, "the stream tables were not live within 120 s (" + last +
                                 "); the daemon's log:\n" + tail_of(daemon.log));
}

// One reading of the stream tables and of the catalog, from one snapshot.
struct Figures {
  std::vector<std::vector<std::string>> regions;  // region, orders, revenue, avg order
  std::vector<std::vector<std::string>> top;      // product, orders, revenue
  std::vector<std::vector<std::string>> newest;   // id, customer, region, product, quantity, amount, status
  std::vector<std::vector<std::string>>
      status;  // name, status, frontier, frontier bytes, lag bytes, staleness s
  std::string detail_rows;
  std::string orders;
  std::string revenue;
  std::string frontier;  // the oldest frontier of the three
  double frontier_bytes = 0;
  double lag_bytes = 0;
  double staleness_seconds = 0;
};

Figures read_figures(PgConnection& db) {
  Figures f;
  db.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  try {
    f.regions = rows_of(db.exec(
        "SELECT region, orders, revenue, round(avg_order, 2) FROM public.revenue_by_region ORDER BY region"));
    f.top = rows_of(
        db.exec("SELECT product, orders, revenue FROM public.top_products ORDER BY revenue DESC, product"));
    f.newest =
        rows_of(db.exec("SELECT id, customer, region, product, quantity, amount, status "
                        "FROM public.order_details ORDER BY id DESC LIMIT 5"));
    f.detail_rows = db.query_value("SELECT count(*) FROM public.order_details");
    const auto totals = rows_of(
        db.exec("SELECT coalesce(sum(orders), 0), coalesce(sum(revenue), 0) FROM public.revenue_by_region"));
    f.orders = totals.at(0).at(0);
    f.revenue = totals.at(0).at(1);
    f.status = rows_of(db.exec(
        "SELECT name, status, coalesce(frontier_lsn::text, ''), coalesce((frontier_lsn - '0/0')::text, '0'), "
        "coalesce(lag_bytes::text, '0'), coalesce(round(extract(epoch FROM staleness), 3)::text, '0') "
        "FROM pgstream.pgs_status()"));
    db.exec("COMMIT");
  } catch (...) {
    if (PQtransactionStatus(db.get()) != PQTRANS_IDLE) PQclear(PQexec(db.get(), "ROLLBACK"));
    throw;
  }
  for (const auto& row : f.status) {
    const double frontier = std::strtod(row[3].c_str(), nullptr);
    if (f.frontier.empty() || frontier < f.frontier_bytes) {
      f.frontier = row[2];
      f.frontier_bytes = frontier;
    }
    f.lag_bytes = std::max(f.lag_bytes, std::strtod(row[4].c_str(), nullptr));
    f.staleness_seconds = std::max(f.staleness_seconds, std::strtod(row[5].c_str(), nullptr));
  }
  return f;
}

std::string human_bytes(double bytes) {
  char text[32];
  if (bytes < 1024) {
    std::snprintf(text, sizeof text, "%.0f B", bytes);
  } else if (bytes < 1024.0 * 1024) {
    std::snprintf(text, sizeof text, "%.1f kB", bytes / 1024);
  } else {
    std::snprintf(text, sizeof text, "%.1f MB", bytes / (1024.0 * 1024));
  }
  return text;
}

// What one refresh shows besides the tables.
struct Rates {
  double elapsed_seconds = 0;
  double transactions_per_second = 0;
  std::uint64_t transactions = 0;
  double wal_bytes_per_second = 0;  // how fast the frontier moves
};

// The live view: a frame redrawn in place on a terminal, else one line per refresh.
class View {
 public:
  View(std::ostream& out, bool terminal, std::string header)
      : out_(out), terminal_(terminal), header_(std::move(header)) {
    if (terminal_) out_ << "\x1b[?25l\x1b[2J" << std::flush;  // hide the cursor, clear the screen
  }
  View(const View&) = delete;
  View& operator=(const View&) = delete;
  ~View() {
    if (terminal_) out_ << "\x1b[?25h" << std::flush;  // show the cursor again
  }

  void show(const Figures& f, const Rates& r, const std::string& note) {
    if (terminal_) {
      frame(f, r, note);
    } else {
      line(f, r, note);
    }
    out_.flush();
    if (!out_) throw Error(ErrorKind::Io, "cannot write to stdout");
  }

 private:
  void line(const Figures& f, const Rates& r, const std::string& note) {
    char text[512];
    std::snprintf(text, sizeof text,
                  "t=%.0fs writer=%.0ftx/s orders=%s revenue=%s details=%s top1=\"%s\" top1_revenue=%s "
                  "frontier=%s lag_bytes=%.0f staleness=%.3fs",
                  r.elapsed_seconds, r.transactions_per_second, f.orders.c_str(), f.revenue.c_str(),
                  f.detail_rows.c_str(), f.top.empty() ? "" : f.top[0][0].c_str(),
                  f.top.empty() ? "" : f.top[0][2].c_str(), f.frontier.c_str(), f.lag_bytes,
                  f.staleness_seconds);
    out_ << text << (note.empty() ? "" : " note=\"" + note + "\"") << "\n";
  }

  enum class Style { Plain, Heading, Changed };

  // Writes one line of the frame (cut at the terminal's width; nothing once
  // the terminal is full), clearing the rest of the terminal line.
  void put(const std::string& text, Style style = Style::Plain) {
    if (rows_left_ <= 0) return;
    --rows_left_;
    const char* start = style == Style::Heading ? "\x1b[1m" : style == Style::Changed ? "\x1b[32m" : "";
    out_ << start << text.substr(0, static_cast<std::size_t>(width_))
         << (style == Style::Plain ? "" : "\x1b[0m") << "\x1b[K\n";
  }

  Style row_style(std::map<std::string, std::vector<std::string>>& previous,
                  const std::vector<std::string>& row) {
    return changed(previous, row) ? Style::Changed : Style::Plain;
  }

  // Green when the row differs from the previous frame's row with the same first column.
  bool changed(std::map<std::string, std::vector<std::string>>& previous,
               const std::vector<std::string>& row) {
    auto [it, inserted] = previous.try_emplace(row[0], row);
    const bool differs = !inserted && it->second != row;
    it->second = row;
    return differs || (inserted && frames_ > 0);
  }

  // The frame fits the terminal: lines are cut at its width and the frame
  // at its height (the newest orders are what is left out), so that
  // redrawing from the top never scrolls.
  void frame(const Figures& f, const Rates& r, const std::string& note) {
    winsize size{};
    const bool known = ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_row > 0 && size.ws_col > 0;
    rows_left_ = known ? size.ws_row - 1 : 23;
    width_ = known ? size.ws_col : 80;
    char text[512];
    out_ << "\x1b[H";  // home; every line clears its own rest, the end clears below
    std::snprintf(text, sizeof text, "%s | %.0f s | Ctrl-C stops", header_.c_str(), r.elapsed_seconds);
    put(text, Style::Heading);
    const std::string writer_note = note.empty() ? std::string() : " - " + note;
    std::snprintf(text, sizeof text, "writer:   %.0f tx/s, %llu transactions%s", r.transactions_per_second,
                  static_cast<unsigned long long>(r.transactions), writer_note.c_str());
    put(text);
    std::snprintf(text, sizeof text, "pgstream: frontier %s, lag %s / %.3f s, applying %s/s of WAL",
                  f.frontier.c_str(), human_bytes(f.lag_bytes).c_str(), f.staleness_seconds,
                  human_bytes(r.wal_bytes_per_second).c_str());
    put(text);
    const auto& tables = sample_stream_tables();
    put("");
    put(heading(f, tables[0]), Style::Heading);
    std::snprintf(text, sizeof text, "  %-10s %8s %14s %12s", "region", "orders", "revenue", "avg order");
    put(text);
    for (const auto& row : f.regions) {
      std::snprintf(text, sizeof text, "  %-10s %8s %14s %12s", row[0].c_str(), row[1].c_str(),
                    row[2].c_str(), row[3].c_str());
      put(text, row_style(regions_, row));
    }
    put("");
    put(heading(f, tables[1]), Style::Heading);
    std::snprintf(text, sizeof text, "  %2s  %-16s %8s %14s", "#", "product", "orders", "revenue");
    put(text);
    for (std::size_t i = 0; i < f.top.size(); ++i) {
      std::snprintf(text, sizeof text, "  %2zu  %-16s %8s %14s", i + 1, f.top[i][0].c_str(),
                    f.top[i][1].c_str(), f.top[i][2].c_str());
      put(text, row_style(top_, f.top[i]));
    }
    put("");
    put(heading(f, tables[2]) + " (" + f.detail_rows + " rows)", Style::Heading);
    std::snprintf(text, sizeof text, "  %8s  %-13s %-8s %-15s %3s %9s  %s", "id", "customer", "region",
                  "product", "qty", "amount", "status");
    put(text);
    for (const auto& row : f.newest) {
      std::snprintf(text, sizeof text, "  %8s  %-13s %-8s %-15s %3s %9s  %s", row[0].c_str(), row[1].c_str(),
                    row[2].c_str(), row[3].c_str(), row[4].c_str(), row[5].c_str(), row[6].c_str());
      put(text);
    }
    out_ << "\x1b[J";  // clear whatever an earlier, longer frame left below
    ++frames_;
  }

  // "revenue_by_region [ACTIVE] aggregate: ..."
  static std::string heading(const Figures& f, const SampleStreamTable& table) {
    std::string status = "?";
    for (const auto& row : f.status) {
      if (row[0] == "public." + std::string(table.name)) status = row[1];
    }
    return std::string(table.name) + " [" + status + "] " + std::string(table.description);
  }

  std::ostream& out_;
  bool terminal_;
  std::string header_;
  std::map<std::string, std::vector<std::string>> regions_;
  std::map<std::string, std::vector<std::string>> top_;
  int frames_ = 0;
  int rows_left_ = 0;  // of the frame being drawn
  int width_ = 80;
};

// Compares every stream table with its query once the daemon has applied
// everything written; the number of tables that differ (each is reported).
int check_tables(PgConnection& db, std::ostream& out) {
  const std::string caught_up = db.query_value("SELECT pgstream.wait_for(pg_current_wal_lsn(), '60s')");
  if (caught_up != "t") {
    out << "pgstream demo: check: the daemon did not catch up within 60 s\n";
    return 1;
  }
  int differing = 0;
  for (const auto& table : sample_stream_tables()) {
    const std::string target = "(SELECT " + std::string(target_columns().at(table.name)) + " FROM public." +
                               std::string(table.name) + ")";
    const std::string query = "(" + std::string(table.query) + ")";
    // (target EXCEPT ALL query) UNION ALL (query EXCEPT ALL target): the rows in one and not the other.
    std::string sql = "SELECT count(*) FROM ((";
    sql += target;
    sql += " EXCEPT ALL ";
    sql += query;
    sql += ") UNION ALL (";
    sql += query;
    sql += " EXCEPT ALL ";
    sql += target;
    sql += ")) AS difference";
    const std::string count = db.query_value(sql);
    if (count != "0") {
      out << "pgstream demo: check: " << table.name << " differs from its query in " << count << " row(s)\n";
      ++differing;
    }
  }
  return differing;
}

// The demo from start to stop; cleanup is the destructors' job, in reverse
// order of construction: view, writer, daemon, server (and its temp dir).
int run_session(const DemoOptions& options, std::ostream& out, SignalScope& signals, std::string& dir) {
  const auto started = Clock::now();
  auto since_start = [&started] { return std::chrono::duration<double>(Clock::now() - started).count(); };
  LocalServer server(out);
  dir = server.dir().string();
  out << "pgstream demo: temp dir " << dir << "\n"
      << "pgstream demo: initdb (" << server.bin_dir().string() << ", OS user " << server.os_user() << ")\n"
      << std::flush;
  signals.check();
  server.initdb();
  signals.check();
  server.start();
  out << "pgstream demo: PostgreSQL listening on 127.0.0.1:" << server.port()
      << "; loading the sample data (500 customers, 40 products, 5000 orders)\n"
      << std::flush;
  PgConnection db(server.conninfo());
  db.exec("SET application_name = 'pgstream demo'");
  db.exec(std::string(kSampleSchema));
  signals.check();

  DaemonChild daemon;
  const fs::path config = write_config(server);
  ::unsetenv("PGSTREAM_DSN");  // NOLINT(concurrency-mt-unsafe): no other thread yet; it would replace the DSN
  start_daemon(daemon, server, config);
  out << "pgstream demo: started the daemon: pgstream run --config " << config.string() << "\n" << std::flush;
  wait_until_live(daemon, db, signals);
  char live[256];
  std::snprintf(live, sizeof live,
                "pgstream demo: %zu stream tables live %.1f s after start; writing %d tx/s; "
                "look around with: psql -h 127.0.0.1 -p %d -U postgres\n",
                sample_stream_tables().size(), since_start(), options.transactions_per_second, server.port());
  out << live << std::flush;

  Writer writer(server.conninfo(), options.transactions_per_second);
  const auto live_since = Clock::now();
  int exit_code = 0;
  {
    View view(out, options.terminal,
              "pgstream demo | psql -h 127.0.0.1 -p " + std::to_string(server.port()) + " -U postgres");
    std::uint64_t last_transactions = 0;
    double last_frontier = -1;
    auto last_time = live_since;
    for (;;) {
      const Figures figures = read_figures(db);
      const auto now = Clock::now();
      const double interval = std::max(1e-3, std::chrono::duration<double>(now - last_time).count());
      Rates rates;
      rates.elapsed_seconds = std::chrono::duration<double>(now - live_since).count();
      rates.transactions = writer.transactions();
      rates.transactions_per_second = static_cast<double>(rates.transactions - last_transactions) / interval;
      rates.wal_bytes_per_second =
          last_frontier < 0 ? 0 : (figures.frontier_bytes - last_frontier) / interval;
      last_transactions = rates.transactions;
      last_frontier = figures.frontier_bytes;
      last_time = now;
      const std::optional<std::string> writer_error = writer.error();
      view.show(figures, rates, writer_error ? "the writer stopped: " + *writer_error : "");
      if (!daemon.process.running()) {
        throw Error(ErrorKind::Io, "the daemon exited with code " +
                                       std::to_string(*daemon.process.exit_status()) + "; its log:\n" +
                                       tail_of(daemon.log));
      }
      if (options.seconds > 0 && rates.elapsed_seconds + 0.5 >= options.seconds) break;
      if (signals.wait(kRefresh) != 0) break;
    }
  }
  out << "pgstream demo: stopping; writer: " << writer.transactions() << " transactions\n" << std::flush;
  writer.stop();
  const int differing = check_tables(db, out);
  if (differing == 0) {
    out << "pgstream demo: check: ok: every stream table equals its query at frontier "
        << db.query_value("SELECT coalesce(min(frontier_lsn)::text, '') FROM pgstream.pgs_status()") << "\n";
  } else {
    out << "pgstream demo: check FAILED: a bug in pgstream; the daemon's log:\n" << tail_of(daemon.log, 4000);
    exit_code = 2;
  }
  const int daemon_exit = daemon.stop();
  if (daemon_exit != 0) {
    out << "pgstream demo: the daemon exited with code " << daemon_exit << "; its log:\n"
        << tail_of(daemon.log);
    exit_code = 2;
  }
  return exit_code;
}

}  // namespace

int run_demo(const DemoOptions& options, std::ostream& out) {
  SignalScope signals;
  std::string dir;
  int exit_code = 0;
  try {
    exit_code = run_session(options, out, signals, dir);
  } catch (const Interrupted&) {
    out << "pgstream demo: interrupted\n";
  } catch (...) {
    if (!dir.empty()) out << "pgstream demo: stopped; removed " << dir << "\n" << std::flush;
    throw;
  }
  out << "pgstream demo: stopped" << (dir.empty() ? std::string() : "; removed " + dir) << "\n" << std::flush;
  return exit_code;
}

}  // namespace pgstream::demo
