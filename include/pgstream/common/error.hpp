// The one error model of pg_stream.
//
// Contract: code that fails throws pgstream::Error (or lets a std::exception
// from a dependency escape, which the boundary wraps as ErrorKind::Internal).
// An Error carries what failed (kind), PostgreSQL's SQLSTATE when the server
// said it, and the three parts PostgreSQL itself uses: a primary message
// (what), a detail (why) and a hint (what to do). Callers decide what to do
// from classify(): retry, fail only the affected stream table, or stop.
// Errors never carry secrets: DSNs are redacted before they reach a message.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace pgstream {

enum class ErrorKind {
  Usage,        // bad command line
  Config,       // bad configuration file or value
  Unsupported,  // a query or feature pg_stream cannot maintain
  Connection,   // could not reach or lost the server
  Database,     // the server reported an error (has a SQLSTATE)
  Protocol,     // the replication stream broke its own rules
  Io,           // local file system
  Internal,     // a bug in pg_stream
};

// What the caller must do about an error.
enum class ErrorAction {
  Retry,            // transient: back off and try again
  FailStreamTable,  // permanent, but only for the stream table it concerns
  Stop,             // the daemon cannot go on
};

struct ErrorParts {
  std::string sqlstate;  // five characters, empty if not from the server
  std::string detail;    // why, may be empty
  std::string hint;      // what to do, may be empty
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string message, ErrorParts parts = {});

  [[nodiscard]] ErrorKind kind() const noexcept { return kind_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  [[nodiscard]] const std::string& sqlstate() const noexcept { return parts_.sqlstate; }
  [[nodiscard]] const std::string& detail() const noexcept { return parts_.detail; }
  [[nodiscard]] const std::string& hint() const noexcept { return parts_.hint; }

  // "message (SQLSTATE xxxxx)\nDETAIL: ...\nHINT: ..." for humans.
  [[nodiscard]] std::string describe() const;

 private:
  ErrorKind kind_;
  std::string message_;
  ErrorParts parts_;
};

[[nodiscard]] std::string_view to_string(ErrorKind kind) noexcept;

// Classifies a SQLSTATE by its class (the first two characters), following
// PostgreSQL's appendix A: connection exceptions, serialization failures,
// deadlocks, lock timeouts, admin shutdown and resource exhaustion are
// transient; everything else is permanent for the stream table concerned.
[[nodiscard]] ErrorAction classify_sqlstate(std::string_view sqlstate) noexcept;

[[nodiscard]] ErrorAction classify(const Error& error) noexcept;

// Process exit code for an error that ends a command: 1 for the user's
// errors (usage, config, unsupported query), 2 for runtime failures.
[[nodiscard]] int exit_code(ErrorKind kind) noexcept;

}  // namespace pgstream
