#include "support/pg_cluster.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace pgstream::testing {

namespace fs = std::filesystem;

namespace {

constexpr const char* kServerUser = "pgstream-test";
constexpr const char* kLocale = "en_US.UTF-8";
constexpr std::size_t kMaxSocketPath = 100;  // sockaddr_un holds 108 bytes with the file name

std::unique_ptr<PgCluster>& shared_slot() {
  static std::unique_ptr<PgCluster> cluster;
  return cluster;
}
// The cluster as seen by the signal guard (a plain pointer read in a handler).
std::atomic<PgCluster*> g_guarded{nullptr};

[[noreturn]] void fail(const std::string& message) { throw std::runtime_error("test cluster: " + message); }

std::string read_command_output(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");  // NOLINT(cert-env33-c): fixed commands, no user input
  if (pipe == nullptr) return out;
  std::array<char, 256> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) out += buffer.data();
  pclose(pipe);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

fs::path find_bin_dir() {
  if (const char* env = std::getenv("PGSTREAM_PG_BINDIR"); env != nullptr && *env != '\0') return env;
  for (const fs::path& candidate : {fs::path(read_command_output("pg_config --bindir 2>/dev/null")),
                                    fs::path("/usr/lib/postgresql/15/bin")}) {
    if (!candidate.empty() && fs::exists(candidate / "initdb") && fs::exists(candidate / "postgres")) {
      return candidate;
    }
  }
  fail(
      "no PostgreSQL server binaries (initdb, postgres) found via PGSTREAM_PG_BINDIR, pg_config --bindir "
      "or /usr/lib/postgresql/15/bin; run scripts/install-deps.sh");
}

void require_locale() {
  const std::string locales = read_command_output("locale -a 2>/dev/null");
  if (locales.find("en_US.utf8") == std::string::npos && locales.find("en_US.UTF-8") == std::string::npos) {
    fail(std::string("the locale ") + kLocale +
         " is not generated; run scripts/install-deps.sh (it runs locale-gen)");
  }
}

// The OS user the server runs as: ourselves, or kServerUser when we are root.
struct ServerUser {
  uid_t uid;
  gid_t gid;
  bool other;
};

ServerUser server_user() {
  if (geteuid() != 0) return {getuid(), getgid(), false};
  if (getpwnam(kServerUser) == nullptr) {
    const std::string command = std::string("useradd --system --user-group --no-create-home ") +
                                "--home-dir /nonexistent --shell /usr/sbin/nologin " + kServerUser;
    if (std::system(command.c_str()) != 0) {  // NOLINT(cert-env33-c,concurrency-mt-unsafe)
      fail(std::string("could not create the OS user ") + kServerUser + " (useradd failed)");
    }
  }
  const passwd* pw = getpwnam(kServerUser);  // NOLINT(concurrency-mt-unsafe): main thread only
  if (pw == nullptr) fail(std::string("OS user ") + kServerUser + " is missing after useradd");
  return {pw->pw_uid, pw->pw_gid, true};
}

// In a forked child: become the server user. Only async-signal-safe calls.
void drop_privileges(const ServerUser& user) {
  if (!user.other) return;
  if (setgroups(0, nullptr) != 0 || setgid(user.gid) != 0 || setuid(user.uid) != 0) _exit(126);
}

struct Argv {
  explicit Argv(std::vector<std::string> args) : strings(std::move(args)) {
    for (auto& s : strings) pointers.push_back(s.data());
    pointers.push_back(nullptr);
  }
  std::vector<std::string> strings;
  std::vector<char*> pointers;
};

// Forks and execs `args` as `user` in `cwd`, stdout+stderr appended to `log`.
// With `die_with_parent`, the child gets SIGQUIT when we die (the postmaster
// shuts down immediately on SIGQUIT, taking its children with it).
pid_t spawn(const ServerUser& user, const std::vector<std::string>& args, const fs::path& cwd,
            const fs::path& log, bool die_with_parent) {
  Argv argv(args);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) fail("cannot open " + log.string() + ": " + std::strerror(errno));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) fail(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    drop_privileges(user);
    // Set after the uid change: the kernel clears the death signal on credential changes.
    if (die_with_parent && (prctl(PR_SET_PDEATHSIG, SIGQUIT) != 0 || getppid() != parent)) _exit(125);
    if (chdir(cwd.c_str()) != 0) _exit(124);
    execv(argv.pointers[0], argv.pointers.data());
    _exit(127);
  }
  ::close(log_fd);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string tail_of(const fs::path& file, std::size_t max_bytes = 2000) {
  std::ifstream in(file);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  return text.size() > max_bytes ? "..." + text.substr(text.size() - max_bytes) : text;
}

// Whether `user` can reach `dir` (e.g. a build tree under /root is not).
bool reachable_by(const ServerUser& user, const fs::path& dir) {
  if (!user.other) return true;
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    drop_privileges(user);
    _exit(access(dir.c_str(), X_OK) == 0 ? 0 : 1);
  }
  return wait_exit(pid) == 0;
}

fs::path make_temp_dir(const fs::path& base) {
  fs::create_directories(base);
  std::string pattern = (base / "pg-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) fail("mkdtemp in " + base.string() + ": " + std::strerror(errno));
  return pattern;
}

void signal_guard(int signo) {
  if (PgCluster* cluster = g_guarded.exchange(nullptr); cluster != nullptr) cluster->shutdown();
  std::signal(signo, SIG_DFL);
  std::raise(signo);
}

}  // namespace

int free_tcp_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  auto* generic = reinterpret_cast<sockaddr*>(&addr);
  if (::bind(fd, generic, sizeof addr) != 0 || ::getsockname(fd, generic, &len) != 0) {
    ::close(fd);
    fail("could not find a free port on 127.0.0.1");
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

PgCluster& PgCluster::shared() {
  auto& slot = shared_slot();
  if (!slot) {
    slot.reset(new PgCluster());  // private constructor
    g_guarded.store(slot.get());
  }
  return *slot;
}

void shutdown_shared_cluster() noexcept {
  g_guarded.store(nullptr);
  shared_slot().reset();
}

void install_cluster_guard() {
  for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE})
    std::signal(signo, signal_guard);
  std::atexit([] { shutdown_shared_cluster(); });
}

PgCluster::PgCluster() {
  bin_dir_ = find_bin_dir();
  require_locale();
  const ServerUser user = server_user();
  run_uid_ = user.uid;
  run_gid_ = user.gid;
  as_other_user_ = user.other;

  root_ = make_temp_dir(PGSTREAM_TEST_TMPDIR);
  if (!hand_over(root_) || (root_ / "sock").string().size() > kMaxSocketPath) {
    fs::remove_all(root_);
    root_ = make_temp_dir(fs::temp_directory_path() / "pgstream-test");
    if (!hand_over(root_))
      fail("the OS user " + std::string(kServerUser) + " cannot reach " + root_.string());
  }
  data_dir_ = root_ / "data";
  socket_dir_ = root_ / "sock";
  fs::create_directories(socket_dir_);
  std::ofstream(root_ / "owner.pid") << getpid() << '\n';
  if (as_other_user_ && chown(socket_dir_.c_str(), run_uid_, run_gid_) != 0)
    fail("chown " + socket_dir_.string());
  try {
    initdb();
    start();
  } catch (...) {
    shutdown();
    throw;
  }
}

PgCluster::~PgCluster() { shutdown(); }

bool PgCluster::hand_over(const fs::path& dir) const {
  const ServerUser user{run_uid_, run_gid_, as_other_user_};
  if (user.other && chown(dir.c_str(), run_uid_, run_gid_) != 0) return false;
  return reachable_by(user, dir);
}

void PgCluster::initdb() {
  const ServerUser user{run_uid_, run_gid_, as_other_user_};
  const fs::path log = root_ / "initdb.log";
  const pid_t pid =
      spawn(user,
            {(bin_dir_ / "initdb").string(), "-D", data_dir_.string(), "-U", "postgres", "--auth=trust",
             "--encoding=UTF8", std::string("--locale=") + kLocale, "--no-sync"},
            root_, log, true);
  if (wait_exit(pid) != 0) fail("initdb failed:\n" + tail_of(log));
  std::ofstream conf(data_dir_ / "postgresql.conf", std::ios::app);
  conf << "\n# pg_stream test cluster\n"
       << "listen_addresses = '127.0.0.1'\n"
       << "unix_socket_directories = '" << socket_dir_.string() << "'\n"
       << "wal_level = logical\n"
       << "max_replication_slots = 32\n"
       << "max_wal_senders = 32\n"
       << "max_connections = 200\n"
       << "fsync = off\n"
       << "full_page_writes = off\n"
       << "max_wal_size = '2GB'\n"
       << "log_min_messages = warning\n"
       << "log_line_prefix = '%m [%p] %d '\n";
}

void PgCluster::start() {
  const ServerUser user{run_uid_, run_gid_, as_other_user_};
  // A restart keeps its port, so that clients can reconnect with the same DSN.
  const bool keep_port = port_ != 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!keep_port) port_ = free_tcp_port();
    pid_ =
        spawn(user, {(bin_dir_ / "postgres").string(), "-D", data_dir_.string(), "-p", std::to_string(port_)},
              root_, root_ / "server.log", true);
    try {
      wait_until_ready();
      return;
    } catch (const std::exception&) {
      if (pid_ > 0) stop("immediate");
      if (keep_port || tail_of(root_ / "server.log").find("could not bind") == std::string::npos) throw;
    }
  }
  fail("no free port after 5 attempts:\n" + tail_of(root_ / "server.log"));
}

void PgCluster::wait_until_ready() {
  const std::string info = conninfo("postgres");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PQping(info.c_str()) == PQPING_OK) return;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      fail("the server exited during start-up:\n" + tail_of(root_ / "server.log"));
    }
    // Readiness poll of a starting server (what pg_ctl -w does too).
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  fail("the server did not accept connections within 60 s:\n" + tail_of(root_ / "server.log"));
}

void PgCluster::stop(const std::string& mode) {
  if (pid_ <= 0) return;
  const int signo = mode == "immediate" ? SIGQUIT : mode == "smart" ? SIGTERM : SIGINT;
  ::kill(pid_, signo);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  int status = 0;
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
}

void PgCluster::restart(const std::string& mode) {
  stop(mode);
  start();
}

std::string PgCluster::conninfo(const std::string& dbname) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + dbname +
         " user=postgres connect_timeout=10 application_name=pgstream_test";
}

int PgCluster::run_tool(const std::string& tool, const std::vector<std::string>& args,
                        const fs::path& log) const {
  std::vector<std::string> argv{(bin_dir_ / tool).string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return wait_exit(spawn({run_uid_, run_gid_, as_other_user_}, argv, root_, log, true));
}

void PgCluster::shutdown() noexcept {
  if (pid_ > 0) {
    // Immediate: the data is thrown away anyway. Only our own child is signalled.
    ::kill(pid_, SIGQUIT);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }
  if (!root_.empty()) {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
    root_.clear();
  }
}

// ---------------------------------------------------------------------------

namespace {
int g_database_counter = 0;
}

PgDatabase::PgDatabase()
    : cluster_(&PgCluster::shared()), name_("test_" + std::to_string(++g_database_counter)) {
  PgConnection admin(cluster_->conninfo("postgres"));
  admin.exec("CREATE DATABASE " + admin.quote_identifier(name_));
}

PgDatabase::~PgDatabase() {
  connection_.reset();
  if (!cluster_->running()) return;
  try {
    PgConnection admin(cluster_->conninfo("postgres"));
    const std::string db = admin.quote_literal(name_);
    // Slots keep a database from being dropped: end their users, then drop them.
    for (int attempt = 0; attempt < 100; ++attempt) {
      if (admin.query_value("SELECT count(*) FROM pg_replication_slots WHERE database = " + db) == "0") break;
      try {
        admin.exec("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = " +
                   db + " AND active_pid IS NOT NULL");
        admin.exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = " +
                   db + " AND NOT active");
      } catch (const Error&) {
        // A slot became active or was dropped between the two statements: look again.
      }
      std::this_thread::sleep_for(
          std::chrono::milliseconds(20));  // a terminated walsender releasing its slot
    }
    admin.exec("DROP DATABASE IF EXISTS " + admin.quote_identifier(name_) + " WITH (FORCE)");
  } catch (const std::exception& error) {
    std::cerr << "warning: could not drop test database " << name_ << ": " << error.what() << '\n';
  }
}

std::string PgDatabase::conninfo() const { return cluster_->conninfo(name_); }

std::string PgDatabase::replication_conninfo() const { return conninfo() + " replication=database"; }

PgConnection& PgDatabase::connection() {
  if (!connection_ || PQstatus(connection_->get()) != CONNECTION_OK) {
    connection_ = std::make_unique<PgConnection>(conninfo());
  }
  return *connection_;
}

}  // namespace pgstream::testing
