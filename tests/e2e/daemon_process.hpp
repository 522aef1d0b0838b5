// End-to-end test fixture: the real `pgstream` binary as a child process
// against a test database, plus the checks every e2e test needs.
//
// Contract:
// - DaemonProcess writes a YAML config into its own temp dir under the build
//   tree, starts `$PGSTREAM_BINARY run --config FILE` (fork/exec, stdout and
//   stderr appended to daemon.log in that dir) and always stops what it
//   started: the destructor SIGKILLs and reaps a daemon still running. The
//   child also gets SIGKILL if the test process dies (PR_SET_PDEATHSIG).
// - Slot and publication names derive from the database name, so daemons of
//   different test cases never share a slot (slots are cluster-wide).
// - Waits are bounded: catalog conditions are polled with a deadline; data
//   waits go through pgstream.wait_for(pg_current_wal_lsn(), ...).
// - Not thread-safe: use a DaemonProcess from the test's main thread.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pgstream/common/pg.hpp"
#include "support/pg_cluster.hpp"

namespace pgstream::e2e {

struct StreamTableSpec {
  std::string name;   // as written in YAML: "public.t" or "t"
  std::string query;  // the defining query (also what check_equal compares with)
  std::string refresh_mode = "DIFFERENTIAL";
  std::string schedule;  // empty: continuous (null)
};

struct DaemonSettings {
  int pool_size = 2;
  long long max_batch_rows = 50000;
  std::string max_batch_delay = "20ms";
  std::string log_level = "info";
  std::string dsn_options;  // appended to the database's conninfo (e.g. "password=...")
  // metrics.listen is 127.0.0.1:<metrics_port>; 0 picks a free port once,
  // when the DaemonProcess is made (see DaemonProcess::metrics_port()).
  std::uint16_t metrics_port = 0;
  std::string ready_max_lag;  // metrics.ready_max_lag when not empty ("10s")
  // Extra environment of the daemon ("NAME=value"); NOTIFY_SOCKET and
  // WATCHDOG_* are never inherited from the test's own environment.
  std::vector<std::string> env;
};

// A TCP port on 127.0.0.1 that nothing listens on right now.
[[nodiscard]] std::uint16_t free_local_port();

// The YAML text of a config.
[[nodiscard]] std::string render_config(const std::string& dsn, const std::string& slot,
                                        const std::string& publication, const DaemonSettings& settings,
                                        const std::vector<StreamTableSpec>& tables);

class DaemonProcess {
 public:
  DaemonProcess(const testing::PgDatabase& db, std::vector<StreamTableSpec> tables,
                DaemonSettings settings = {});
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;
  ~DaemonProcess();

  // Rewrites the config file (send sighup() to make a running daemon read it).
  void set_tables(std::vector<StreamTableSpec> tables);
  [[nodiscard]] const std::vector<StreamTableSpec>& tables() const noexcept { return tables_; }

  void start();
  void sighup();
  // SIGTERM, then waits (at most 30 s, else a test failure and SIGKILL);
  // returns the exit code (128 + signal if it was killed by one).
  int sigterm_and_wait();
  void kill9();
  [[nodiscard]] bool running();
  [[nodiscard]] std::optional<int> exit_status() const noexcept { return exit_status_; }

  // Polls pgstream.pgs_status() until at least `n` stream tables are ACTIVE
  // and populated and the daemon's slot is streaming; fails the test (with
  // the log) at the deadline or if the daemon exits.
  void wait_until_active(std::size_t n, std::chrono::seconds timeout = std::chrono::seconds(90));

  // Reads the log file written so far; tail() its last `bytes`.
  [[nodiscard]] std::string log() const;
  [[nodiscard]] std::string tail(std::size_t bytes = 4000) const;

  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }
  [[nodiscard]] const std::filesystem::path& config_path() const noexcept { return config_path_; }
  [[nodiscard]] const std::string& slot() const noexcept { return slot_; }
  [[nodiscard]] const std::string& dsn() const noexcept { return dsn_; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  [[nodiscard]] std::uint16_t metrics_port() const noexcept { return settings_.metrics_port; }

 private:
  void write_config();

  std::string dsn_;
  std::string slot_;
  std::string publication_;
  DaemonSettings settings_;
  std::vector<StreamTableSpec> tables_;
  std::filesystem::path dir_;
  std::filesystem::path config_path_;
  std::filesystem::path log_path_;
  pid_t pid_ = -1;
  int starts_ = 0;
  std::optional<int> exit_status_;
};

// Path of the pgstream binary ($PGSTREAM_BINARY); fails the test if unset.
[[nodiscard]] std::string pgstream_binary();

// A one-shot `pgstream <args>` (check, status): exit code, stdout, stderr.
struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
[[nodiscard]] CommandResult run_pgstream(const std::vector<std::string>& args,
                                         const std::filesystem::path& dir);

// A fresh temp dir under the build tree for one test's files.
[[nodiscard]] std::filesystem::path make_temp_dir(const std::string& prefix);

// A stream table's status in the catalog ("missing" if it has no row, or no catalog yet).
[[nodiscard]] std::string status_of(PgConnection& conn, const std::string& name);
// Polls the catalog (bounded: 30 s, then a test failure with the daemon's
// log) until stream table `name` has `status`.
void wait_status(PgConnection& conn, const std::string& name, const std::string& status,
                 DaemonProcess& daemon);

// Read-your-writes for the test: takes pg_current_wal_lsn(), then calls
// pgstream.wait_for(lsn, <= 2 s) until it returns true AND `n_tables` stream
// tables are ACTIVE with frontier_lsn >= lsn (a stale ACTIVE row of a
// restarting daemon must not count). Retries the call itself while the
// server does not accept connections; fails at once if `daemon` exited. Returns the LSN waited for; fails the
// test at the deadline.
std::string sync_all(const std::string& conninfo, std::size_t n_tables,
                     std::chrono::seconds timeout = std::chrono::seconds(120),
                     DaemonProcess* daemon = nullptr);

// Empty when `target` (its user-visible columns, in order) equals `query`
// as a multiset; otherwise a description with a few differing rows each way.
[[nodiscard]] std::string diff_against_query(PgConnection& conn, const std::string& target,
                                             const std::string& query);

// CHECKs diff_against_query() is empty, naming the target on failure.
void check_equal(PgConnection& conn, const std::string& target, const std::string& query);
void check_equal(testing::PgDatabase& db, const std::string& target, const std::string& query);

// The seed for random tests: $PGSTREAM_E2E_SEED or `fallback`; printed by the caller.
[[nodiscard]] std::uint64_t test_seed(std::uint64_t fallback);
// $PGSTREAM_E2E_SCALE (default 1.0) times `n`, at least 1.
[[nodiscard]] int scaled(int n);

}  // namespace pgstream::e2e
