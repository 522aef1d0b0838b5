// A throwaway PostgreSQL 15 cluster for tests, and a fresh database per test.
//
// Contract:
// - PgCluster::shared() starts, on first use, one cluster per test binary:
//   initdb in a temp dir under the build tree (or /tmp if the server's OS user
//   cannot reach the build tree), wal_level=logical, 20+ slots and senders,
//   fsync=off, locale en_US.UTF-8, a free port on 127.0.0.1 and a unix socket
//   in the temp dir. As root, the server runs as the OS user "pgstream-test"
//   (created if missing), since PostgreSQL refuses to run as root.
// - The cluster is stopped (by its pid) and its dir removed at exit, when a
//   test throws, and on SIGINT/SIGTERM/SIGABRT/SIGSEGV; the server also gets
//   SIGQUIT from the kernel if the test process dies (PR_SET_PDEATHSIG). A
//   kill -9 can leave a dir behind: ctest's pgtest_sweep removes it.
// - Not thread-safe: use it from the test's main thread.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "pgstream/common/pg.hpp"

namespace pgstream::testing {

class PgCluster {
 public:
  // The cluster of this test binary, started on first call. Throws if the
  // server cannot be started (the message says why and what to install).
  static PgCluster& shared();

  PgCluster(const PgCluster&) = delete;
  PgCluster& operator=(const PgCluster&) = delete;
  ~PgCluster();

  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] const std::filesystem::path& data_dir() const noexcept { return data_dir_; }
  [[nodiscard]] const std::filesystem::path& socket_dir() const noexcept { return socket_dir_; }
  [[nodiscard]] const std::filesystem::path& bin_dir() const noexcept { return bin_dir_; }
  [[nodiscard]] pid_t postmaster_pid() const noexcept { return pid_; }

  // conninfo for a superuser connection over TCP to `dbname`.
  [[nodiscard]] std::string conninfo(const std::string& dbname = "postgres") const;

  // Stops the server: mode "fast" (clean) or "immediate" (like a crash).
  void stop(const std::string& mode = "fast");
  void start();
  // pg_ctl restart -m <mode>, keeping port and data dir.
  void restart(const std::string& mode = "immediate");
  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }

  // Runs a bin_dir() program (e.g. pg_recvlogical) as the server's OS user
  // when we are root, returning its exit status. Output goes to `log`.
  int run_tool(const std::string& tool, const std::vector<std::string>& args,
               const std::filesystem::path& log) const;

  // Stops the server and removes the dir; safe to call twice. Called from
  // the signal guard and from the destructor.
  void shutdown() noexcept;

 private:
  PgCluster();
  // Gives `dir` to the server's OS user; false if that user cannot reach it
  // (e.g. a build tree under a home directory of mode 0700).
  bool hand_over(const std::filesystem::path& dir) const;
  void initdb();
  void wait_until_ready();

  std::filesystem::path root_;        // the temp dir, removed at shutdown
  std::filesystem::path data_dir_;    // root_/data
  std::filesystem::path socket_dir_;  // root_/sock
  std::filesystem::path bin_dir_;
  int port_ = 0;
  pid_t pid_ = -1;
  uid_t run_uid_ = 0;  // the server's OS user (differs from ours when we are root)
  gid_t run_gid_ = 0;
  bool as_other_user_ = false;
};

// A fresh database for one test case, dropped (with its replication slots)
// when the object goes out of scope. Use it as a Catch2 fixture:
//   TEST_CASE_METHOD(pgstream::testing::PgDatabase, "name", "[pg]") { exec("..."); }
class PgDatabase {
 public:
  PgDatabase();
  PgDatabase(const PgDatabase&) = delete;
  PgDatabase& operator=(const PgDatabase&) = delete;
  ~PgDatabase();

  [[nodiscard]] const std::string& db_name() const noexcept { return name_; }
  [[nodiscard]] PgCluster& cluster() const noexcept { return *cluster_; }
  // conninfo for a normal and for a logical replication connection to this database.
  [[nodiscard]] std::string conninfo() const;
  [[nodiscard]] std::string replication_conninfo() const;

  // A connection kept open for the test case (lazily (re)connected).
  PgConnection& connection();
  PgResult exec(const std::string& sql) { return connection().exec(sql); }
  [[nodiscard]] std::string query_value(const std::string& sql) { return connection().query_value(sql); }

 private:
  PgCluster* cluster_;
  std::string name_;
  std::unique_ptr<PgConnection> connection_;
};

// Installs handlers for SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS and
// SIGFPE that stop the shared cluster and remove its dir before the signal's
// default action; and an atexit() hook doing the same.
void install_cluster_guard();

// A TCP port on 127.0.0.1 that nothing listens on right now.
[[nodiscard]] int free_tcp_port();

// Stops the shared cluster, if one was started, and removes its dir.
void shutdown_shared_cluster() noexcept;

}  // namespace pgstream::testing
