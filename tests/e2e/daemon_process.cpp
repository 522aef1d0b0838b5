#include "e2e/daemon_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#ifndef PGSTREAM_E2E_TMPDIR
#define PGSTREAM_E2E_TMPDIR "/tmp/pgstream-e2e"
#endif

extern char** environ;

namespace pgstream::e2e {

namespace {

// PGSTREAM_E2E_LOG_LEVEL (e.g. debug) overrides every test's level.
std::string log_level(const DaemonSettings& settings) {
  const char* level = std::getenv("PGSTREAM_E2E_LOG_LEVEL");  // NOLINT(concurrency-mt-unsafe)
  return level != nullptr && *level != '\0' ? std::string(level) : settings.log_level;
}

using Clock = std::chrono::steady_clock;

std::string yaml_quoted(const std::string& text) {
  std::string out = "\"";
  for (const char ch : text) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  return out + "\"";
}

// A slot/publication name from the database name: [a-z0-9_], at most 50 chars.
std::string identifier_from(const std::string& prefix, const std::string& name) {
  std::string out = prefix;
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    out += std::isalnum(c) != 0 ? static_cast<char>(std::tolower(c)) : '_';
  }
  if (out.size() > 50) out.resize(50);
  return out;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The environment for a child, without PGSTREAM_DSN (it would override the config's DSN).
std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    if (std::strncmp(*entry, "PGSTREAM_DSN=", 13) == 0) continue;
    if (std::strncmp(*entry, "NOTIFY_SOCKET=", 14) == 0 || std::strncmp(*entry, "WATCHDOG_", 9) == 0)
      continue;
    env.emplace_back(*entry);
  }
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// fork/exec with stdout and stderr into the given files (append); returns the pid.
pid_t spawn(std::vector<std::string> argv_strings, const std::filesystem::path& out_path,
            const std::filesystem::path& err_path, bool die_with_parent,
            const std::vector<std::string>& extra_env = {}) {
  std::vector<std::string> env_strings = child_environment();
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> argv = c_strings(argv_strings);
  std::vector<char*> envp = c_strings(env_strings);
  const std::string out_file = out_path.string();
  const std::string err_file = err_path.string();
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) FAIL("fork failed: " << std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls from here on.
    if (die_with_parent) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(127);
    }
    const int out = open(out_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const int err =
        out_file == err_file ? out : open(err_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (out < 0 || err < 0) _exit(126);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    const int null_in = open("/dev/null", O_RDONLY);
    if (null_in >= 0) dup2(null_in, STDIN_FILENO);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::atomic<int> g_dir_counter{0};

}  // namespace

std::string pgstream_binary() {
  const char* binary = std::getenv("PGSTREAM_BINARY");
  if (binary == nullptr || *binary == '\0') {
    FAIL("PGSTREAM_BINARY is not set: run this test through ctest, or set it to the built pgstream binary");
  }
  return binary;
}

std::filesystem::path make_temp_dir(const std::string& prefix) {
  const std::filesystem::path root = PGSTREAM_E2E_TMPDIR;
  std::filesystem::create_directories(root);
  const std::filesystem::path dir =
      root / (prefix + "-" + std::to_string(getpid()) + "-" + std::to_string(++g_dir_counter));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::uint16_t free_local_port() { return static_cast<std::uint16_t>(testing::free_tcp_port()); }

std::string render_config(const std::string& dsn, const std::string& slot, const std::string& publication,
                          const DaemonSettings& settings, const std::vector<StreamTableSpec>& tables) {
  std::ostringstream y;
  y << "postgres:\n"
    << "  dsn: " << yaml_quoted(dsn) << "\n"
    << "  slot: " << slot << "\n"
    << "  publication: " << publication << "\n"
    << "  catalog_schema: pgstream\n"
    << "writer:\n"
    << "  pool_size: " << settings.pool_size << "\n"
    << "  max_batch_rows: " << settings.max_batch_rows << "\n"
    << "  max_batch_delay: " << settings.max_batch_delay << "\n"
    << "log:\n"
    << "  level: " << log_level(settings) << "\n"
    << "  format: text\n"
    << "metrics:\n"
    << "  listen: 127.0.0.1:" << (settings.metrics_port != 0 ? settings.metrics_port : free_local_port())
    << "\n";
  if (!settings.ready_max_lag.empty()) y << "  ready_max_lag: " << settings.ready_max_lag << "\n";
  if (tables.empty()) {
    y << "stream_tables: []\n";
  } else {
    y << "stream_tables:\n";
    for (const auto& table : tables) {
      y << "  - name: " << yaml_quoted(table.name) << "\n"
        << "    refresh_mode: " << table.refresh_mode << "\n"
        << "    schedule: " << (table.schedule.empty() ? std::string("null") : yaml_quoted(table.schedule))
        << "\n"
        << "    query: |\n";
      std::istringstream lines(table.query);
      std::string line;
      while (std::getline(lines, line)) y << "      " << line << "\n";
    }
  }
  return y.str();
}

DaemonProcess::DaemonProcess(const testing::PgDatabase& db, std::vector<StreamTableSpec> tables,
                             DaemonSettings settings)
    : dsn_(db.conninfo() + (settings.dsn_options.empty() ? "" : " " + settings.dsn_options)),
      slot_(identifier_from("pgs_e2e_", db.db_name())),
      publication_(identifier_from("pgs_e2e_pub_", db.db_name())),
      settings_(std::move(settings)),
      tables_(std::move(tables)) {
  if (settings_.metrics_port == 0) settings_.metrics_port = free_local_port();
  dir_ = make_temp_dir(db.db_name());
  config_path_ = dir_ / "pgstream.yaml";
  log_path_ = dir_ / "daemon.log";
  write_config();
}

DaemonProcess::~DaemonProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }
  if (std::getenv("PGSTREAM_E2E_KEEP") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

void DaemonProcess::write_config() {
  const std::string text = render_config(dsn_, slot_, publication_, settings_, tables_);
  const std::filesystem::path temp = config_path_.string() + ".new";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << text;
  }
  std::filesystem::rename(temp, config_path_);  // atomic: a reload never reads half a file
}

void DaemonProcess::set_tables(std::vector<StreamTableSpec> tables) {
  tables_ = std::move(tables);
  write_config();
}

void DaemonProcess::start() {
  REQUIRE(pid_ < 0);
  {
    std::ofstream marker(log_path_, std::ios::app);
    marker << "=== e2e: start #" << ++starts_ << " ===\n";
  }
  exit_status_.reset();
  pid_ = spawn({pgstream_binary(), "run", "--config", config_path_.string()}, log_path_, log_path_, true,
               settings_.env);
}

bool DaemonProcess::running() {
  if (pid_ < 0) return false;
  int status = 0;
  const pid_t done = waitpid(pid_, &status, WNOHANG);
  if (done == pid_) {
    exit_status_ = decode_status(status);
    pid_ = -1;
    return false;
  }
  return true;
}

void DaemonProcess::sighup() {
  REQUIRE(running());
  ::kill(pid_, SIGHUP);
}

int DaemonProcess::sigterm_and_wait() {
  REQUIRE(pid_ > 0);
  ::kill(pid_, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    if (!running()) return *exit_status_;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a child's exit
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  exit_status_ = decode_status(status);
  FAIL("pgstream did not stop within 30 s of SIGTERM; log:\n" << tail());
  return *exit_status_;
}

void DaemonProcess::kill9() {
  REQUIRE(pid_ > 0);
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  exit_status_ = decode_status(status);
  pid_ = -1;
}

void DaemonProcess::wait_until_active(std::size_t n, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::unique_ptr<PgConnection> conn;
  std::string last;
  while (Clock::now() < deadline) {
    if (!running()) {
      FAIL("pgstream exited (status " << exit_status_.value_or(-1) << ") while waiting for " << n
                                      << " active stream tables; log:\n"
                                      << tail());
    }
    try {
      if (!conn || PQstatus(conn->get()) != CONNECTION_OK) conn = std::make_unique<PgConnection>(dsn_);
      PgResult r = conn->exec(
          "SELECT (SELECT count(*) FROM pgstream.pgs_status() WHERE status = 'ACTIVE' AND is_populated), "
          "coalesce((SELECT active FROM pg_replication_slots WHERE slot_name = " +
          conn->quote_literal(slot_) +
          "), false), "
          "(SELECT string_agg(name || ':' || status, ', ') FROM pgstream.pgs_status()), "
          "(SELECT string_agg(name || ': ' || coalesce(last_error, '?'), E'\\n') FROM pgstream.pgs_status() "
          " WHERE status = 'ERROR')");
      const auto active = static_cast<std::size_t>(std::stoll(PQgetvalue(r.get(), 0, 0)));
      const bool streaming = std::string(PQgetvalue(r.get(), 0, 1)) == "t";
      last = PQgetvalue(r.get(), 0, 2);
      if (PQgetisnull(r.get(), 0, 3) == 0) {
        FAIL("stream tables went to ERROR while waiting for " << n << " ACTIVE ones:\n"
                                                              << PQgetvalue(r.get(), 0, 3) << "\nlog:\n"
                                                              << tail());
      }
      if (active >= n && streaming) return;
    } catch (const Error& error) {
      last = error.message();  // the catalog may not exist yet, or the server restarts
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a catalog condition
  }
  FAIL("timed out waiting for " << n << " ACTIVE stream tables (last seen: " << last << "); log:\n"
                                << tail());
}

std::string DaemonProcess::log() const { return read_file(log_path_); }

std::string DaemonProcess::tail(std::size_t bytes) const {
  std::string text = log();
  if (text.size() > bytes) text = "...\n" + text.substr(text.size() - bytes);
  return text;
}

CommandResult run_pgstream(const std::vector<std::string>& args, const std::filesystem::path& dir) {
  std::vector<std::string> argv{pgstream_binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  const auto n = g_dir_counter.fetch_add(1);
  const auto out_path = dir / ("cmd-" + std::to_string(n) + ".out");
  const auto err_path = dir / ("cmd-" + std::to_string(n) + ".err");
  const pid_t pid = spawn(argv, out_path, err_path, true);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  CommandResult result;
  result.exit_code = decode_status(status);
  result.out = read_file(out_path);
  result.err = read_file(err_path);
  return result;
}

std::string status_of(PgConnection& conn, const std::string& name) {
  // Before the daemon created its catalog, no table has a row.
  if (conn.query_value("SELECT to_regclass('pgstream.pgs_stream_tables') IS NULL") == "t") return "missing";
  return conn.query_value("SELECT coalesce((SELECT status FROM pgstream.pgs_stream_tables WHERE pgs_name = " +
                          conn.quote_literal(name) + "), 'missing')");
}

void wait_status(PgConnection& conn, const std::string& name, const std::string& status,
                 DaemonProcess& daemon) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (status_of(conn, name) != status) {
    if (std::chrono::steady_clock::now() > deadline) {
      FAIL("stream table " << name << " never reached " << status << " (is " << status_of(conn, name) << ")\n"
                           << daemon.tail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling a catalog row
  }
}

std::string sync_all(const std::string& conninfo, std::size_t n_tables, std::chrono::seconds timeout,
                     DaemonProcess* daemon) {
  const auto deadline = Clock::now() + timeout;
  std::string lsn;
  std::string last;
  std::unique_ptr<PgConnection> conn;
  while (Clock::now() < deadline) {
    if (daemon != nullptr && !daemon->running()) {
      FAIL("sync_all: pgstream exited (status " << daemon->exit_status().value_or(-1) << "); log:\n"
                                                << daemon->tail());
    }
    try {
      if (!conn || PQstatus(conn->get()) != CONNECTION_OK) conn = std::make_unique<PgConnection>(conninfo);
      if (lsn.empty()) lsn = conn->query_value("SELECT pg_current_wal_lsn()");
      const std::string lit = conn->quote_literal(lsn);
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      const std::string wait = std::to_string(std::clamp<long long>(left, 100, 2000)) + " ms";
      const std::string done = conn->query_value("SELECT pgstream.wait_for(" + lit + "::pg_lsn, " +
                                                 conn->quote_literal(wait) + ")");
      const auto caught_up = static_cast<std::size_t>(std::stoll(conn->query_value(
          "SELECT count(*) FROM pgstream.pgs_stream_tables WHERE status = 'ACTIVE' AND frontier_lsn >= " +
          lit + "::pg_lsn")));
      if (done == "t" && caught_up >= n_tables) return lsn;
      last = "wait_for=" + done + ", caught up " + std::to_string(caught_up) + "/" +
             std::to_string(n_tables) + "; " +
             conn->query_value(
                 "SELECT coalesce(string_agg(name || ':' || status || '@' || "
                 "coalesce(frontier_lsn::text, '-'), ', '), '') FROM pgstream.pgs_status()");
    } catch (const Error& error) {
      last = error.message();  // the server restarting: retry the wait itself
      conn.reset();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // retrying after a failed/partial wait
  }
  FAIL("sync_all: stream tables did not reach " << (lsn.empty() ? "the current LSN" : lsn)
                                                << " (last: " << last << ")"
                                                << (daemon != nullptr ? "; log:\n" + daemon->tail() : ""));
  return lsn;
}

std::string diff_against_query(PgConnection& conn, const std::string& target, const std::string& query) {
  const std::string columns = conn.query_value(
      "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
      "WHERE attrelid = " +
      conn.quote_literal(target) +
      "::regclass AND attnum > 0 AND NOT attisdropped AND attname NOT LIKE '\\_\\_pgs\\_%'");
  const std::string target_rows = "SELECT " + columns + " FROM " + target;
  const std::string extra = "(" + target_rows + ") EXCEPT ALL (" + query + ")";
  const std::string missing = "(" + query + ") EXCEPT ALL (" + target_rows + ")";
  PgResult counts = conn.exec("SELECT (SELECT count(*) FROM (" + extra + ") e), (SELECT count(*) FROM (" +
                              missing + ") m), (SELECT count(*) FROM " + target + ")");
  const std::string n_extra = PQgetvalue(counts.get(), 0, 0);
  const std::string n_missing = PQgetvalue(counts.get(), 0, 1);
  if (n_extra == "0" && n_missing == "0") return "";
  std::ostringstream out;
  out << target << " (" << PQgetvalue(counts.get(), 0, 2) << " rows) differs from its query: " << n_extra
      << " row(s) only in the target, " << n_missing << " row(s) only in the query result\n";
  auto sample = [&](const std::string& label, const std::string& sql) {
    PgResult rows = conn.exec("SELECT * FROM (" + sql + ") s LIMIT 5");
    for (int r = 0; r < PQntuples(rows.get()); ++r) {
      out << "  " << label << ": (";
      for (int c = 0; c < PQnfields(rows.get()); ++c) {
        if (c > 0) out << ", ";
        out << (PQgetisnull(rows.get(), r, c) != 0 ? "NULL" : PQgetvalue(rows.get(), r, c));
      }
      out << ")\n";
    }
  };
  sample("only in target", extra);
  sample("only in query ", missing);
  return out.str();
}

void check_equal(PgConnection& conn, const std::string& target, const std::string& query) {
  std::string diff;
  try {
    diff = diff_against_query(conn, target, query);
  } catch (const Error& error) {
    diff = target + ": comparison failed: " + error.describe();
  }
  INFO("stream table " << target);
  CHECK(diff == "");
}

void check_equal(testing::PgDatabase& db, const std::string& target, const std::string& query) {
  check_equal(db.connection(), target, query);
}

std::uint64_t test_seed(std::uint64_t fallback) {
  if (const char* seed = std::getenv("PGSTREAM_E2E_SEED"); seed != nullptr && *seed != '\0') {
    return std::strtoull(seed, nullptr, 10);
  }
  return fallback;
}

int scaled(int n) {
  double scale = 1.0;
  if (const char* text = std::getenv("PGSTREAM_E2E_SCALE"); text != nullptr && *text != '\0') {
    scale = std::strtod(text, nullptr);
  }
  const int out = static_cast<int>(n * scale);
  return out < 1 ? 1 : out;
}

}  // namespace pgstream::e2e
