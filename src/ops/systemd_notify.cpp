#include "pgstream/ops/systemd_notify.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

namespace pgstream::ops {

namespace {

std::string env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): read once at start-up
  return value != nullptr ? std::string(value) : std::string();
}

std::optional<std::chrono::microseconds> watchdog_from_env() {
  const std::string usec = env("WATCHDOG_USEC");
  const std::string pid = env("WATCHDOG_PID");
  if (usec.empty()) return std::nullopt;
  if (!pid.empty() && pid != std::to_string(getpid())) return std::nullopt;  // meant for another process
  std::int64_t value = 0;
  auto [ptr, ec] = std::from_chars(usec.data(), usec.data() + usec.size(), value);
  if (ec != std::errc{} || ptr != usec.data() + usec.size() || value <= 0) return std::nullopt;
  return std::chrono::microseconds(value);
}

std::string with_status(std::string_view head, std::string_view status) {
  std::string message(head);
  if (!status.empty()) {
    message += "\nSTATUS=";
    message += status;
  }
  return message;
}

}  // namespace

SystemdNotifier::SystemdNotifier() : socket_path_(env("NOTIFY_SOCKET")), watchdog_(watchdog_from_env()) {}

SystemdNotifier::SystemdNotifier(std::string socket_path, std::optional<std::chrono::microseconds> watchdog)
    : socket_path_(std::move(socket_path)), watchdog_(watchdog) {}

std::optional<std::chrono::microseconds> SystemdNotifier::watchdog_interval() const noexcept {
  if (!watchdog_) return std::nullopt;
  return *watchdog_ / 2;
}

void SystemdNotifier::ready(std::string_view status) const { notify(with_status("READY=1", status)); }
void SystemdNotifier::stopping(std::string_view status) const { notify(with_status("STOPPING=1", status)); }
void SystemdNotifier::reloading(std::string_view status) const { notify(with_status("RELOADING=1", status)); }
void SystemdNotifier::watchdog() const { notify("WATCHDOG=1"); }
void SystemdNotifier::status(std::string_view text) const { notify(with_status("", text).substr(1)); }

bool SystemdNotifier::notify(std::string_view message) const {
  if (socket_path_.empty()) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path_.size() >= sizeof address.sun_path || (socket_path_[0] != '/' && socket_path_[0] != '@')) {
    spdlog::debug("NOTIFY_SOCKET '{}' is not a usable unix socket path", socket_path_);
    return false;
  }
  std::memcpy(address.sun_path, socket_path_.data(), socket_path_.size());
  if (socket_path_[0] == '@') address.sun_path[0] = '\0';  // abstract namespace
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());

  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return false;
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  const ssize_t sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), length);
  const int error = errno;
  ::close(fd);
  if (sent < 0) {
    spdlog::debug("sd_notify to {} failed: errno {}", socket_path_, error);
    return false;
  }
  return static_cast<std::size_t>(sent) == message.size();
}

}  // namespace pgstream::ops
