#include "pgstream/common/error.hpp"

#include <array>
#include <utility>

namespace pgstream {

Error::Error(ErrorKind kind, std::string message, ErrorParts parts)
    : std::runtime_error(message), kind_(kind), message_(std::move(message)), parts_(std::move(parts)) {}

std::string Error::describe() const {
  std::string text = message_;
  if (!parts_.sqlstate.empty()) text += " (SQLSTATE " + parts_.sqlstate + ")";
  if (!parts_.detail.empty()) text += "\nDETAIL: " + parts_.detail;
  if (!parts_.hint.empty()) text += "\nHINT: " + parts_.hint;
  return text;
}

std::string_view to_string(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::Usage: return "usage";
    case ErrorKind::Config: return "config";
    case ErrorKind::Unsupported: return "unsupported";
    case ErrorKind::Connection: return "connection";
    case ErrorKind::Database: return "database";
    case ErrorKind::Protocol: return "protocol";
    case ErrorKind::Io: return "io";
    case ErrorKind::Internal: return "internal";
  }
  return "internal";
}

ErrorAction classify_sqlstate(std::string_view sqlstate) noexcept {
  if (sqlstate.size() != 5) return ErrorAction::FailStreamTable;
  if (sqlstate == "57P04") return ErrorAction::Stop;  // database_dropped
  // Whole classes that are transient.
  static constexpr std::array<std::string_view, 3> kTransientClasses = {
      "08",  // connection exception
      "53",  // insufficient resources (disk full, out of memory, too many connections)
      "57",  // operator intervention: admin/crash shutdown, cannot connect now, query canceled
  };
  // Single conditions that are transient.
  static constexpr std::array<std::string_view, 4> kTransientStates = {
      "40001",  // serialization_failure
      "40P01",  // deadlock_detected
      "55P03",  // lock_not_available (lock_timeout)
      "25P03",  // idle_in_transaction_session_timeout
  };
  const std::string_view cls = sqlstate.substr(0, 2);
  for (auto c : kTransientClasses) {
    if (cls == c) return ErrorAction::Retry;
  }
  for (auto s : kTransientStates) {
    if (sqlstate == s) return ErrorAction::Retry;
  }
  if (cls == "58" || cls == "XX") return ErrorAction::Stop;  // server I/O or internal error
  return ErrorAction::FailStreamTable;
}

ErrorAction classify(const Error& error) noexcept {
  switch (error.kind()) {
    case ErrorKind::Connection: return ErrorAction::Retry;
    case ErrorKind::Database: return classify_sqlstate(error.sqlstate());
    case ErrorKind::Unsupported: return ErrorAction::FailStreamTable;
    case ErrorKind::Usage:
    case ErrorKind::Config:
    case ErrorKind::Protocol:
    case ErrorKind::Io:
    case ErrorKind::Internal: return ErrorAction::Stop;
  }
  return ErrorAction::Stop;
}

int exit_code(ErrorKind kind) noexcept {
  switch (kind) {
    case ErrorKind::Usage:
    case ErrorKind::Config:
    case ErrorKind::Unsupported: return 1;
    default: return 2;
  }
}

}  // namespace pgstream
