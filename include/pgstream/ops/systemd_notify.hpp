// systemd's service notification protocol (sd_notify(3)), spoken directly:
// one datagram per message to the unix socket named by $NOTIFY_SOCKET, so
// that pgstream needs no libsystemd. Outside systemd (no NOTIFY_SOCKET) every
// call is a no-op.
//
// Contract: notify() never throws and never blocks; a failure to send is
// logged at debug level and otherwise ignored (systemd's own client does the
// same). Thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace pgstream::ops {

class SystemdNotifier {
 public:
  // Reads NOTIFY_SOCKET and WATCHDOG_USEC from the environment.
  SystemdNotifier();
  // For tests: an explicit socket path (a leading '@' means the abstract namespace).
  explicit SystemdNotifier(std::string socket_path, std::optional<std::chrono::microseconds> watchdog = {});

  [[nodiscard]] bool enabled() const noexcept { return !socket_path_.empty(); }

  // How often to send WATCHDOG=1: half of WatchdogSec, or nullopt if the
  // service has no watchdog.
  [[nodiscard]] std::optional<std::chrono::microseconds> watchdog_interval() const noexcept;

  void ready(std::string_view status = {}) const;      // READY=1 (+ STATUS=)
  void stopping(std::string_view status = {}) const;   // STOPPING=1
  void reloading(std::string_view status = {}) const;  // RELOADING=1
  void watchdog() const;                               // WATCHDOG=1
  void status(std::string_view text) const;            // STATUS=...

  // Sends `message` ("KEY=value\nKEY=value") as one datagram; true if sent.
  bool notify(std::string_view message) const;

 private:
  std::string socket_path_;
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace pgstream::ops
