// Thin RAII owners for libpq handles, and the conversions of libpq's errors
// into pgstream::Error. Used where libpqxx does not reach (the replication
// protocol, COPY BOTH) and wherever raw libpq is the better tool.
//
// Ownership: PgResult and PgConnection own their handle and free it exactly
// once; both are movable, not copyable. Not thread-safe: one connection is
// used by one thread at a time (libpq's own rule).
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>

#include "pgstream/common/error.hpp"

namespace pgstream {

struct PgResultDeleter {
  void operator()(PGresult* result) const noexcept { PQclear(result); }
};
using PgResult = std::unique_ptr<PGresult, PgResultDeleter>;

struct PgConnDeleter {
  void operator()(PGconn* conn) const noexcept { PQfinish(conn); }
};

class PgConnection {
 public:
  // Connects (blocking). Throws Error{Connection} with the redacted DSN and
  // libpq's message if the connection fails.
  explicit PgConnection(const std::string& conninfo);

  [[nodiscard]] PGconn* get() const noexcept { return conn_.get(); }

  // Runs one command that returns no rows or some rows; throws
  // Error{Database} carrying the server's SQLSTATE on failure.
  PgResult exec(const std::string& sql);
  // Like exec(), but the result of a query with one row and one column.
  [[nodiscard]] std::string query_value(const std::string& sql);

  [[nodiscard]] std::string quote_identifier(std::string_view name) const;
  [[nodiscard]] std::string quote_literal(std::string_view value) const;
  [[nodiscard]] int server_version() const noexcept { return PQserverVersion(conn_.get()); }

 private:
  std::unique_ptr<PGconn, PgConnDeleter> conn_;
};

// An Error for a failed result: kind Database with SQLSTATE, detail and hint
// when the server sent them, kind Connection when the connection is gone.
// `context` says what we were doing ("creating slot \"pgstream\"").
[[nodiscard]] Error result_error(const PGconn* conn, const PGresult* result, std::string_view context);

// True if the result's status is one of the success states for a command
// (COMMAND_OK, TUPLES_OK, COPY_*).
[[nodiscard]] bool result_ok(const PGresult* result) noexcept;

// The conninfo (key=value form or URI) with any password replaced by
// "********". Unparsable input is replaced whole, since it may hold one.
[[nodiscard]] std::string redact_conninfo(const std::string& conninfo);

}  // namespace pgstream
