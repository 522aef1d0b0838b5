#include "pgstream/common/pg.hpp"

#include <spdlog/spdlog.h>

#include <memory>

namespace pgstream {

namespace {

std::string field(const PGresult* result, int code) {
  const char* value = result != nullptr ? PQresultErrorField(result, code) : nullptr;
  return value != nullptr ? std::string(value) : std::string();
}

std::string trim_trailing_newline(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// Server NOTICEs ("schema already exists, skipping") are debug information
// for us, not output on stderr.
void log_notice(void* /*arg*/, const char* message) {
  std::string_view text(message);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  spdlog::debug("server: {}", text);
}

struct ConninfoOptionsDeleter {
  void operator()(PQconninfoOption* options) const noexcept { PQconninfoFree(options); }
};

struct PqFreeDeleter {
  void operator()(char* text) const noexcept { PQfreemem(text); }
};

}  // namespace

PgConnection::PgConnection(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
  if (!conn_) throw Error(ErrorKind::Connection, "out of memory allocating a libpq connection");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    throw Error(
        ErrorKind::Connection,
        "could not connect to PostgreSQL: " + trim_trailing_newline(PQerrorMessage(conn_.get())),
        {.sqlstate = "",
         .detail = "connection: " + redact_conninfo(conninfo),
         .hint = "Check the DSN (postgres.dsn or PGSTREAM_DSN) and that the server accepts connections."});
  }
  PQsetNoticeProcessor(conn_.get(), log_notice, nullptr);
}

PgResult PgConnection::exec(const std::string& sql) {
  PgResult result(PQexec(conn_.get(), sql.c_str()));
  if (!result_ok(result.get())) throw result_error(conn_.get(), result.get(), "executing: " + sql);
  return result;
}

std::string PgConnection::query_value(const std::string& sql) {
  PgResult result = exec(sql);
  if (PQntuples(result.get()) != 1 || PQnfields(result.get()) != 1) {
    throw Error(ErrorKind::Internal, "expected one value from: " + sql);
  }
  return PQgetisnull(result.get(), 0, 0) != 0 ? std::string() : std::string(PQgetvalue(result.get(), 0, 0));
}

std::string PgConnection::quote_identifier(std::string_view name) const {
  std::unique_ptr<char, PqFreeDeleter> quoted(PQescapeIdentifier(conn_.get(), name.data(), name.size()));
  if (!quoted) throw result_error(conn_.get(), nullptr, "quoting an identifier");
  return quoted.get();
}

std::string PgConnection::quote_literal(std::string_view value) const {
  std::unique_ptr<char, PqFreeDeleter> quoted(PQescapeLiteral(conn_.get(), value.data(), value.size()));
  if (!quoted) throw result_error(conn_.get(), nullptr, "quoting a literal");
  return quoted.get();
}

bool result_ok(const PGresult* result) noexcept {
  switch (PQresultStatus(result)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_COPY_OUT:
    case PGRES_COPY_IN:
    case PGRES_COPY_BOTH:
    case PGRES_SINGLE_TUPLE: return true;
    default: return false;
  }
}

Error result_error(const PGconn* conn, const PGresult* result, std::string_view context) {
  std::string message = trim_trailing_newline(field(result, PG_DIAG_MESSAGE_PRIMARY));
  if (message.empty()) message = trim_trailing_newline(PQerrorMessage(conn));
  if (!context.empty()) message = std::string(context) + ": " + message;
  const bool lost = conn != nullptr && PQstatus(conn) == CONNECTION_BAD;
  return Error(lost ? ErrorKind::Connection : ErrorKind::Database, std::move(message),
               {.sqlstate = field(result, PG_DIAG_SQLSTATE),
                .detail = field(result, PG_DIAG_MESSAGE_DETAIL),
                .hint = field(result, PG_DIAG_MESSAGE_HINT)});
}

std::string redact_conninfo(const std::string& conninfo) {
  char* parse_error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoOptionsDeleter> options(
      PQconninfoParse(conninfo.c_str(), &parse_error));
  if (parse_error != nullptr) PQfreemem(parse_error);
  if (!options) return "(unparsable connection string)";
  std::string out;
  for (const PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    if (option->val == nullptr) continue;
    if (!out.empty()) out += ' ';
    out += option->keyword;
    out += '=';
    const bool secret = std::string_view(option->dispchar) == "*";  // libpq marks passwords with "*"
    out += secret ? std::string("********") : std::string(option->val);
  }
  return out;
}

}  // namespace pgstream
