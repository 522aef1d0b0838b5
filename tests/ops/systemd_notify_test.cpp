#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>

#include "pgstream/ops/systemd_notify.hpp"

using pgstream::ops::SystemdNotifier;

namespace {

// A datagram socket standing in for systemd's notification socket.
class FakeSystemd {
 public:
  FakeSystemd() {
    char dir[] = "/tmp/pgstream-notify-XXXXXX";
    REQUIRE(mkdtemp(dir) != nullptr);
    dir_ = dir;
    path_ = dir_ + "/notify";
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
    timeval timeout{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }
  ~FakeSystemd() {
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  [[nodiscard]] const std::string& path() const { return path_; }
  std::string receive() const {
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  std::string dir_;
  std::string path_;
  int fd_ = -1;
};

}  // namespace

TEST_CASE("notifications reach the socket as systemd expects them", "[ops][systemd]") {
  FakeSystemd systemd;
  const SystemdNotifier notifier(systemd.path(), std::chrono::seconds(10));
  REQUIRE(notifier.enabled());
  notifier.ready("caught up at 0/16B3748");
  CHECK(systemd.receive() == "READY=1\nSTATUS=caught up at 0/16B3748");
  notifier.watchdog();
  CHECK(systemd.receive() == "WATCHDOG=1");
  notifier.status("3 stream tables, lag 0 B");
  CHECK(systemd.receive() == "STATUS=3 stream tables, lag 0 B");
  notifier.stopping();
  CHECK(systemd.receive() == "STOPPING=1");
  CHECK(notifier.watchdog_interval() == std::chrono::seconds(5));
}

TEST_CASE("without NOTIFY_SOCKET, or with a bad one, nothing happens and nothing throws", "[ops][systemd]") {
  const SystemdNotifier none{std::string()};
  CHECK_FALSE(none.enabled());
  CHECK_FALSE(none.notify("READY=1"));
  CHECK_FALSE(none.watchdog_interval().has_value());
  CHECK_FALSE(SystemdNotifier("relative/path").notify("READY=1"));
  CHECK_FALSE(SystemdNotifier("/nonexistent/dir/notify").notify("READY=1"));
  CHECK_FALSE(SystemdNotifier(std::string(200, '/')).notify("READY=1"));
}
