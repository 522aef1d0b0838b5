#include "pgstream/demo/child_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <fstream>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

#include "pgstream/common/error.hpp"

namespace pgstream::demo {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& message) { throw Error(ErrorKind::Io, message); }

std::string errno_text() { return std::error_code(errno, std::generic_category()).message(); }

// In the forked child, before exec: only async-signal-safe calls.
void prepare_child(const SpawnOptions& options, int log_fd, pid_t parent) {
  setpgid(0, 0);
  sigset_t none;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, nullptr);  // the demo blocks SIGINT/SIGTERM; exec keeps masks
  signal(SIGPIPE, SIG_DFL);                      // and ignores SIGPIPE; exec keeps SIG_IGN
  dup2(log_fd, STDOUT_FILENO);
  dup2(log_fd, STDERR_FILENO);
  const int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) dup2(devnull, STDIN_FILENO);
  if (options.user.other &&
      (setgroups(0, nullptr) != 0 || setgid(options.user.gid) != 0 || setuid(options.user.uid) != 0)) {
    _exit(126);
  }
  // After the uid change: the kernel clears the death signal on credential changes.
  if (options.death_signal != 0 &&
      (prctl(PR_SET_PDEATHSIG, options.death_signal) != 0 || getppid() != parent)) {
    _exit(125);
  }
  if (chdir(options.cwd.c_str()) != 0) _exit(124);
}

}  // namespace

OsUser current_user() {
  OsUser user;
  user.uid = getuid();
  user.gid = getgid();
  if (const passwd* pw = getpwuid(user.uid); pw != nullptr) user.name = pw->pw_name;  // NOLINT
  return user;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const SpawnOptions& options) {
  std::vector<std::string> strings(argv);
  std::vector<char*> pointers;
  pointers.reserve(strings.size() + 1);
  for (auto& text : strings) pointers.push_back(text.data());
  pointers.push_back(nullptr);
  const int log_fd = ::open(options.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) fail("cannot open " + options.log.string() + ": " + errno_text());
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    ::close(log_fd);
    fail(std::string("fork failed: ") + errno_text());
  }
  if (pid == 0) {
    prepare_child(options, log_fd, parent);
    execv(pointers[0], pointers.data());
    _exit(127);
  }
  ::close(log_fd);
  pid_ = pid;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), status_(other.status_) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    stop(SIGKILL, std::chrono::milliseconds(0));
    pid_ = std::exchange(other.pid_, -1);
    status_ = other.status_;
  }
  return *this;
}

ChildProcess::~ChildProcess() { stop(SIGKILL, std::chrono::milliseconds(0)); }

void ChildProcess::reaped(int raw_status) noexcept {
  status_ = WIFEXITED(raw_status) ? WEXITSTATUS(raw_status) : 128 + WTERMSIG(raw_status);
  pid_ = -1;
}

bool ChildProcess::running() noexcept {
  if (pid_ <= 0) return false;
  int raw = 0;
  const pid_t done = waitpid(pid_, &raw, WNOHANG);
  if (done == pid_) reaped(raw);
  return pid_ > 0;
}

int ChildProcess::wait() noexcept {
  if (pid_ > 0) {
    int raw = 0;
    pid_t done = 0;
    while ((done = waitpid(pid_, &raw, 0)) < 0 && errno == EINTR) {
    }
    if (done == pid_) {
      reaped(raw);
    } else {
      pid_ = -1;  // not our child any more (cannot happen): forget it
      status_ = -1;
    }
  }
  return status_.value_or(-1);
}

int ChildProcess::stop(int signo, std::chrono::milliseconds grace) noexcept {
  if (!running()) return status_.value_or(-1);
  ::kill(pid_, signo);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      return wait();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling the child's exit
  }
  return status_.value_or(-1);
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) fail(std::string("socket() failed: ") + errno_text());
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof addr;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  auto* generic = reinterpret_cast<sockaddr*>(&addr);
  const bool ok = ::bind(fd, generic, sizeof addr) == 0 && ::getsockname(fd, generic, &length) == 0;
  ::close(fd);
  if (!ok) fail("could not find a free TCP port on 127.0.0.1");
  return ntohs(addr.sin_port);
}

std::string tail_of(const fs::path& file, std::size_t max_bytes) {
  std::ifstream in(file);
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  return text.size() > max_bytes ? "..." + text.substr(text.size() - max_bytes) : text;
}

}  // namespace pgstream::demo
