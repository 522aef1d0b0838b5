// The daemon's access to its catalog (SPEC §4): the SQL API's requests and
// their answers, and the stream-table records with their dependencies.
//
// Contract:
// - Every function takes the catalog schema's unquoted name; it is always
//   quoted, and every value travels as a libpq parameter, so any name or text
//   is safe.
// - Each function runs in autocommit on a connection that is not inside a
//   transaction (REQUIRES: PQtransactionStatus == PQTRANS_IDLE); the ones that
//   write several statements (replace_dependencies) run them in one
//   transaction of their own and roll it back on failure.
// - Failures throw pgstream::Error (Database with the server's SQLSTATE,
//   Connection when the connection is gone); parse_request throws
//   Error{Protocol} for a request it cannot read.
// - Not thread-safe beyond libpq's rule: one connection, one thread at a time.
//
// The request/answer protocol (docs/CATALOG.md): a SQL API function emits a
// non-transactional logical decoding message with prefix kRequestPrefix whose
// content is a JSON object; the daemon reads it from its replication stream,
// parses it with parse_request(), answers RECEIVED at once and DONE or FAILED
// when it has carried it out (answer_request()); the function polls
// pgs_requests for the answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/common/pg.hpp"

namespace pgstream::catalog {

// The prefix of the SQL API's logical decoding messages.
inline constexpr std::string_view kRequestPrefix = "pgstream";

// One SQL API request, as the SQL function built it. `name` is canonical:
// the quoted, schema-qualified name (format('%I.%I')), for alter/drop/refresh
// one that existed when the request was sent.
struct Request {
  std::string id;       // uuid
  std::string catalog;  // the catalog schema the caller used
  std::string op;       // create | alter | drop | refresh
  std::string name;
  std::string query;  // empty when not sent (alter without a new query, drop, refresh)
  std::optional<std::string> schedule, refresh_mode, status;
  bool initialize = true;
  // Who asked, as the caller's backend reported it. Anyone who can call
  // pg_logical_emit_message can forge a request: the daemon must check that
  // backend `pid` exists and runs as `role` before it trusts either.
  std::string role;
  std::int64_t pid = 0;
};

// The request in a logical decoding message, or nullopt if the message is not
// one (another prefix) or is for another catalog schema. Throws
// Error{Protocol} if the content is not a version-1 request (not JSON, a
// missing id/op/name, an unknown op).
[[nodiscard]] std::optional<Request> parse_request(std::string_view prefix, std::string_view content,
                                                   std::string_view catalog_schema);

// The states of a request in pgs_requests.
enum class RequestState {
  Received,  // the daemon read it; the caller now waits up to pgstream.request_timeout
  Done,      // carried out; the caller's function returns
  Failed,    // not carried out; the caller's function raises `error`
};

[[nodiscard]] std::string_view to_string(RequestState state) noexcept;

// Records the daemon's answer to `request` (insert or update of its row).
// For Failed, `error` supplies SQLSTATE, message, detail and hint; an error
// without a SQLSTATE gets one from its kind (Usage/Config 22023, Unsupported
// 0A000, Connection 08006, others XX000); a null `error` becomes XX000.
// Also deletes requests answered (DONE/FAILED) more than an hour ago.
void answer_request(PgConnection& connection, const std::string& schema, const Request& request,
                    RequestState state, const Error* error = nullptr);

// PostgreSQL before 17 does not flush the WAL of a non-transactional
// message, so a request could wait in the WAL buffers until something else
// commits (up to the bgwriter's 15 s standby snapshot on an idle server).
// If WAL is inserted but not flushed, this writes a tiny message (prefix
// "pgstream.flush") in a transaction of its own, whose commit wakes the WAL
// writer (asynchronous flush, within wal_writer_delay). Writes nothing on an
// idle server. The daemon calls it a few times a second.
void nudge_wal_flush(PgConnection& connection);

// One row of pgs_stream_tables, as the daemon needs it.
struct StreamTableRecord {
  std::int64_t pgs_id = 0;
  std::optional<Oid> relid;
  std::string schema, name, defining_query, original_query;
  std::optional<std::string> schedule;
  std::string refresh_mode, status, source;
  std::optional<std::string> frontier_lsn;  // text form, "0/16B3748"
  bool is_populated = false;
  bool needs_reinit = false;
  int consecutive_errors = 0;
  std::optional<std::string> last_error;
};

// What defines a stream table (upsert_stream_table's input).
struct StreamTableDefinition {
  std::string schema, name, defining_query, original_query;
  std::optional<std::string> schedule;
  std::string refresh_mode = "DIFFERENTIAL";  // DIFFERENTIAL | FULL
  std::string source = "sql";                 // yaml | sql
};

// A source relation of a stream table.
struct Dependency {
  Oid oid = 0;
  std::string schema, name;
  std::string type;  // TABLE | STREAM_TABLE | VIEW
  std::vector<std::string> columns;
};

// Every stream table, ordered by pgs_id.
[[nodiscard]] std::vector<StreamTableRecord> load_stream_tables(PgConnection& connection,
                                                                const std::string& schema);

// Inserts the stream table (status INITIALIZING), or updates the definition
// (queries, schedule, refresh mode, source) of the existing row with the same
// schema and name, keeping its id, status and frontier. Returns its pgs_id.
[[nodiscard]] std::int64_t upsert_stream_table(PgConnection& connection, const std::string& schema,
                                               const StreamTableDefinition& definition);

// Sets the status (INITIALIZING | ACTIVE | SUSPENDED | ERROR) and needs_reinit.
// ERROR increments consecutive_errors and records `error` as last_error;
// ACTIVE clears both. Throws Error{Internal} if there is no such stream table.
void set_status(PgConnection& connection, const std::string& schema, std::int64_t pgs_id,
                std::string_view status, const std::optional<std::string>& error, bool needs_reinit);

// Records the operator plan that explain_st() returns.
void set_explain(PgConnection& connection, const std::string& schema, std::int64_t pgs_id,
                 std::string_view plan);

// Records the target table's oid.
void set_relid(PgConnection& connection, const std::string& schema, std::int64_t pgs_id, Oid relid);

// Replaces the stream table's dependencies with `dependencies`, in one
// transaction.
void replace_dependencies(PgConnection& connection, const std::string& schema, std::int64_t pgs_id,
                          const std::vector<Dependency>& dependencies);

// Deletes the stream table's record, with its dependencies and history.
void delete_stream_table(PgConnection& connection, const std::string& schema, std::int64_t pgs_id);

}  // namespace pgstream::catalog
