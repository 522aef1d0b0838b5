// Child processes of `pgstream demo`: the PostgreSQL server, initdb and the
// daemon, each one owned by exactly one ChildProcess.
//
// Contract:
// - spawn() forks and execs from the calling thread; call it from the main
//   thread only: the child's death signal (PR_SET_PDEATHSIG) fires when the
//   thread that forked it ends, so that nothing outlives a crashed demo.
// - The child runs in a process group of its own (a Ctrl-C in the terminal
//   reaches the demo only, which then stops its children in order), with an
//   empty signal mask and default signal dispositions, stdin from /dev/null,
//   stdout and stderr appended to a log file, and, as root, as another OS
//   user (PostgreSQL refuses to run as root).
// - The destructor SIGKILLs and reaps a child still running: a ChildProcess
//   never leaves a process behind. Not thread-safe.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pgstream::demo {

// The OS user a child runs as: ourselves, or another user when we are root.
struct OsUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string name;
  bool other = false;  // differs from ours: the child drops privileges to it
};

// The user running this process.
[[nodiscard]] OsUser current_user();

struct SpawnOptions {
  OsUser user;
  std::filesystem::path cwd;
  std::filesystem::path log;  // stdout and stderr are appended here
  int death_signal = 0;       // sent to the child when the demo dies; 0: none
};

class ChildProcess {
 public:
  ChildProcess() = default;
  // Starts argv[0] (a path) with `args`; throws Error{Io} if it cannot.
  ChildProcess(const std::vector<std::string>& argv, const SpawnOptions& options);
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();

  [[nodiscard]] pid_t pid() const noexcept { return pid_; }
  // Whether it still runs (reaps it if it has exited).
  [[nodiscard]] bool running() noexcept;
  // Its exit code (128 + signal if a signal ended it), once it has exited.
  [[nodiscard]] std::optional<int> exit_status() const noexcept { return status_; }

  // Waits for the child to exit; its exit code.
  int wait() noexcept;
  // Sends `signo`, waits at most `grace` for the child to exit, then
  // SIGKILLs it; its exit code. Returns at once if it has already exited.
  int stop(int signo, std::chrono::milliseconds grace) noexcept;

 private:
  void reaped(int raw_status) noexcept;

  pid_t pid_ = -1;
  std::optional<int> status_;
};

// A TCP port on 127.0.0.1 that nothing listens on right now.
[[nodiscard]] int free_port();

// The last `max_bytes` of a (log) file, for error messages.
[[nodiscard]] std::string tail_of(const std::filesystem::path& file, std::size_t max_bytes = 2000);

}  // namespace pgstream::demo
