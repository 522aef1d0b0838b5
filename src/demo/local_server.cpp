#include "pgstream/demo/local_server.hpp"

#include <libpq-fe.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <system_error>
#include <thread>
#include <vector>

#include "pgstream/common/error.hpp"

namespace pgstream::demo {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDebianServerUser = "postgres";  // created by Debian's postgresql-common
constexpr const char* kDemoUser = "pgstream-demo";
constexpr int kMinimumMajor = 15;
constexpr const char* kInstallHint =
    "Install PostgreSQL 15's server: sudo apt-get install postgresql-15 (Debian 12), or set "
    "PGSTREAM_PG_BINDIR to the directory holding initdb and postgres.";

[[noreturn]] void fail(const std::string& message, const std::string& hint = {}) {
  throw Error(ErrorKind::Io, message, {.hint = hint});
}

std::string command_output(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");  // NOLINT(cert-env33-c): fixed commands
  if (pipe == nullptr) return out;
  std::array<char, 256> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) out += buffer.data();
  pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

// The server's major version from `postgres --version` ("postgres (PostgreSQL) 15.8 ..."); 0 if unknown.
int server_major(const fs::path& bin_dir) {
  const std::string text = command_output("'" + (bin_dir / "postgres").string() + "' --version 2>/dev/null");
  const auto paren = text.find(") ");
  return paren == std::string::npos ? 0
                                    : static_cast<int>(std::strtol(text.c_str() + paren + 2, nullptr, 10));
}

fs::path find_bin_dir() {
  std::vector<fs::path> candidates;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read before any thread starts
  if (const char* env = std::getenv("PGSTREAM_PG_BINDIR"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
  }
  candidates.emplace_back(command_output("pg_config --bindir 2>/dev/null"));
  candidates.emplace_back("/usr/lib/postgresql/15/bin");
  std::string seen;
  for (const fs::path& candidate : candidates) {
    if (candidate.empty() || !fs::exists(candidate / "initdb") || !fs::exists(candidate / "postgres"))
      continue;
    const int major = server_major(candidate);
    if (major >= kMinimumMajor) return candidate;
    seen += " " + candidate.string() + " (version " + std::to_string(major) + ")";
  }
  fail("no PostgreSQL " + std::to_string(kMinimumMajor) +
           " server found (looked for initdb and postgres via PGSTREAM_PG_BINDIR, pg_config --bindir "
           "and /usr/lib/postgresql/15/bin" +
           (seen.empty() ? std::string(")") : "; too old:" + seen + ")"),
       kInstallHint);
}

OsUser user_named(const char* name) {
  const passwd* pw = getpwnam(name);  // NOLINT(concurrency-mt-unsafe): main thread, before threads
  if (pw == nullptr) return {};
  return {pw->pw_uid, pw->pw_gid, name, true};
}

// PostgreSQL refuses to run as root: as root, the server runs as another user.
OsUser server_user() {
  if (geteuid() != 0) return current_user();
  if (OsUser user = user_named(kDebianServerUser); user.other && user.uid != 0) return user;
  if (OsUser user = user_named(kDemoUser); user.other) return user;
  const std::string command = std::string("useradd --system --user-group --no-create-home ") +
                              "--home-dir /nonexistent --shell /usr/sbin/nologin " + kDemoUser;
  if (std::system(command.c_str()) != 0) {  // NOLINT(cert-env33-c,concurrency-mt-unsafe): fixed command
    fail(std::string("running as root, and could not create the OS user ") + kDemoUser +
             " for the server (useradd failed)",
         "PostgreSQL refuses to run as root: run pgstream demo as a normal user.");
  }
  OsUser user = user_named(kDemoUser);
  if (!user.other) fail(std::string("the OS user ") + kDemoUser + " is missing after useradd");
  return user;
}

fs::path temp_base() {
  std::error_code error;
  fs::path base = fs::temp_directory_path(error);
  return error ? fs::path("/tmp") : base;
}

bool process_exists(const std::string& pid_text) {
  const long pid = std::strtol(pid_text.c_str(), nullptr, 10);
  return pid > 0 && fs::exists("/proc/" + std::to_string(pid));
}

// The first line of a file ("" if it cannot be read).
std::string first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

// A demo killed with SIGKILL cannot remove its temp dir (its server and
// daemon die with it: PR_SET_PDEATHSIG). The next demo removes such dirs:
// those whose demo.pid names a process that no longer runs, and whose
// server no longer runs either. Dirs of other users are left alone.
void remove_stale_dirs(const fs::path& base, std::ostream& out) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(base, error)) {
    const fs::path& dir = entry.path();
    if (dir.filename().string().rfind("pgstream-demo-", 0) != 0 || !entry.is_directory(error)) continue;
    struct stat info {};
    if (stat(dir.c_str(), &info) != 0 || (info.st_uid != geteuid() && geteuid() != 0)) continue;
    const std::string demo_pid = first_line(dir / "demo.pid");
    if (demo_pid.empty() || process_exists(demo_pid)) continue;
    if (process_exists(first_line(dir / "data" / "postmaster.pid"))) continue;
    std::error_code ignored;
    if (fs::remove_all(dir, ignored) > 0 && !ignored) {
      out << "pgstream demo: removed " << dir.string() << ", left by an earlier demo (pid " << demo_pid
          << ")\n";
    }
  }
}

fs::path make_temp_dir() {
  const fs::path base = temp_base();
  std::string pattern = (base / "pgstream-demo-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    fail("mkdtemp in " + base.string() + ": " + std::error_code(errno, std::generic_category()).message());
  }
  std::ofstream(fs::path(pattern) / "demo.pid") << getpid() << '\n';
  return pattern;
}

// Gives `path` to the server's OS user (as root).
void hand_over(const fs::path& path, const OsUser& user) {
  if (user.other && chown(path.c_str(), user.uid, user.gid) != 0) {
    fail("chown " + path.string() + " to " + user.name + ": " +
         std::error_code(errno, std::generic_category()).message());
  }
}

}  // namespace

LocalServer::LocalServer(std::ostream& out) : bin_dir_(find_bin_dir()), user_(server_user()) {
  remove_stale_dirs(temp_base(), out);
  root_ = make_temp_dir();
  try {
    fs::create_directories(root_ / "sock");
    hand_over(root_, user_);
    hand_over(root_ / "sock", user_);
    if (user_.other) {
      // The temp dir's parents must let the server's user through (e.g. not a TMPDIR under /root).
      for (fs::path parent = root_.parent_path(); parent != parent.root_path();
           parent = parent.parent_path()) {
        struct stat info {};
        if (stat(parent.c_str(), &info) == 0 && (info.st_mode & S_IXOTH) == 0) {
          fail("the server's OS user " + user_.name + " cannot reach " + root_.string(),
               "Set TMPDIR to a directory every user can reach, e.g. TMPDIR=/tmp.");
        }
      }
    }
  } catch (...) {
    stop();
    throw;
  }
}

LocalServer::~LocalServer() { stop(); }

void LocalServer::initdb() {
  const fs::path log = root_ / "initdb.log";
  ChildProcess initdb({(bin_dir_ / "initdb").string(), "-D", (root_ / "data").string(), "-U", "postgres",
                       "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"},
                      {.user = user_, .cwd = root_, .log = log, .death_signal = SIGKILL});
  if (initdb.wait() != 0) fail("initdb failed:\n" + tail_of(log));
  std::ofstream conf(root_ / "data" / "postgresql.conf", std::ios::app);
  conf << "\n# pgstream demo: a throwaway server\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "unix_socket_directories = '" << (root_ / "sock").string() << "'\n"
       << "wal_level = logical\n"
       << "max_replication_slots = 10\n"
       << "max_wal_senders = 10\n"
       << "fsync = off\n"
       << "full_page_writes = off\n"
       << "log_min_messages = warning\n";
  if (!conf.flush()) fail("cannot write " + (root_ / "data" / "postgresql.conf").string());
}

void LocalServer::start() {
  const fs::path log = root_ / "server.log";
  for (int attempt = 0; attempt < 5; ++attempt) {
    port_ = free_port();
    server_ = ChildProcess(
        {(bin_dir_ / "postgres").string(), "-D", (root_ / "data").string(), "-p", std::to_string(port_)},
        {.user = user_, .cwd = root_, .log = log, .death_signal = SIGQUIT});
    try {
      wait_until_ready();
      return;
    } catch (const Error&) {
      server_.stop(SIGQUIT, std::chrono::seconds(5));
      // Another process took the port between free_port() and the server's bind: try another.
      if (tail_of(log).find("could not bind") == std::string::npos) throw;
    }
  }
  fail("the server found no free port after 5 attempts:\n" + tail_of(log));
}

void LocalServer::wait_until_ready() {
  const std::string info = conninfo();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(info.c_str()) == PQPING_OK) return;
    if (!server_.running()) fail("the server exited during start-up:\n" + tail_of(root_ / "server.log"));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // readiness poll, as pg_ctl -w does
  }
  fail("the server did not accept connections within 60 s:\n" + tail_of(root_ / "server.log"));
}

void LocalServer::stop() noexcept {
  // SIGINT is PostgreSQL's fast shutdown (pg_ctl stop -m fast); the server is our child, so we
  // signal and reap it by its pid rather than through pg_ctl and the data dir's postmaster.pid.
  if (server_.running() && server_.stop(SIGINT, std::chrono::seconds(20)) == 128 + SIGKILL) {
    std::fprintf(stderr, "pgstream demo: the server did not stop within 20 s and was killed\n");
  }
  if (!root_.empty()) {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
    root_.clear();
  }
}

std::string LocalServer::conninfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + dbname +
         " user=postgres connect_timeout=10";
}

}  // namespace pgstream::demo
