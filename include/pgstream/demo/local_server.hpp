// A throwaway local PostgreSQL 15 for `pgstream demo`.
//
// Contract:
// - The constructor finds the server binaries (PGSTREAM_PG_BINDIR,
//   `pg_config --bindir`, /usr/lib/postgresql/15/bin; version 15 or later),
//   picks the OS user the server runs as (ourselves; as root the OS user
//   "postgres" that Debian's server package creates, else "pgstream-demo",
//   created if missing: PostgreSQL refuses to run as root) and makes a
//   private temp dir for it. initdb() and start() then do the slow parts, so
//   that the caller can look for Ctrl-C in between. It also removes the temp
//   dirs that demos killed with SIGKILL left behind (their demo.pid and their
//   server's postmaster.pid name processes that no longer run).
// - The server: wal_level=logical, trust authentication for the superuser
//   "postgres", listening on 127.0.0.1 on a free port and on a unix socket in
//   the temp dir, fsync off (the data is thrown away).
// - Cleanup is unconditional: the destructor (and stop()) shuts the server
//   down by its pid (SIGINT: what `pg_ctl stop -m fast` sends; SIGQUIT, then
//   SIGKILL, if it does not stop in time) and removes the temp dir. If the
//   demo itself dies, the kernel sends the server SIGQUIT (PR_SET_PDEATHSIG).
// - Errors are Error{Io} saying what is missing and what to install.
//   Not thread-safe: use it from the main thread.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <string>

#include "pgstream/demo/child_process.hpp"

namespace pgstream::demo {

class LocalServer {
 public:
  // Says on `out` which stale temp dirs of killed demos it removed.
  explicit LocalServer(std::ostream& out);
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;
  ~LocalServer();

  void initdb();
  // Starts the server and waits until it accepts connections.
  void start();
  // Stops the server and removes the temp dir; safe to call twice.
  void stop() noexcept;

  [[nodiscard]] const std::filesystem::path& dir() const noexcept { return root_; }
  [[nodiscard]] const std::filesystem::path& bin_dir() const noexcept { return bin_dir_; }
  [[nodiscard]] const std::string& os_user() const noexcept { return user_.name; }
  [[nodiscard]] int port() const noexcept { return port_; }
  [[nodiscard]] int server_pid() const noexcept { return server_.pid(); }
  // conninfo of a superuser connection over TCP to `dbname`.
  [[nodiscard]] std::string conninfo(const std::string& dbname = "postgres") const;

 private:
  void wait_until_ready();

  std::filesystem::path bin_dir_;
  OsUser user_;
  std::filesystem::path root_;  // the temp dir, removed by stop()
  int port_ = 0;
  ChildProcess server_;
};

}  // namespace pgstream::demo
