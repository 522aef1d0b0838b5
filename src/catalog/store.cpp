#include "pgstream/catalog/store.hpp"

#include <yaml-cpp/yaml.h>

#include <utility>

namespace pgstream::catalog {

namespace {

using Param = std::optional<std::string>;

// Runs `sql` with `params` as text parameters ($1, $2, ...).
PgResult exec_params(PgConnection& connection, const std::string& sql, const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& param : params) values.push_back(param ? param->c_str() : nullptr);
  PgResult result(PQexecParams(connection.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
  if (!result_ok(result.get())) throw result_error(connection.get(), result.get(), "executing: " + sql);
  return result;
}

void require_idle(const PgConnection& connection, std::string_view what) {
  if (PQtransactionStatus(connection.get()) != PQTRANS_IDLE) {
    throw Error(ErrorKind::Internal, std::string(what) + ": the catalog connection is inside a transaction");
  }
}

std::string table(const PgConnection& connection, const std::string& schema, std::string_view name) {
  return connection.quote_identifier(schema) + "." + std::string(name);
}

Param optional_value(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column) != 0) return std::nullopt;
  return std::string(PQgetvalue(result, row, column));
}

std::string value(const PGresult* result, int row, int column) { return {PQgetvalue(result, row, column)}; }

// The text form of a PostgreSQL text[]: every element double-quoted, with
// backslash and double quote escaped.
std::string text_array(const std::vector<std::string>& elements) {
  std::string out = "{";
  for (const std::string& element : elements) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (const char c : element) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

Error protocol_error(std::string message, std::string_view content) {
  constexpr std::size_t kShown = 200;
  return Error(ErrorKind::Protocol, std::move(message),
               {.detail = "request: " + std::string(content.substr(0, kShown)) +
                          (content.size() > kShown ? "..." : ""),
                .hint = "The message was not written by this version's SQL API; upgrade the daemon or "
                        "the catalog so that both agree."});
}

// A string field of the request; nullopt if absent or null.
std::optional<std::string> text_field(const YAML::Node& root, const char* key, std::string_view content) {
  const YAML::Node node = root[key];
  if (!node || node.IsNull()) return std::nullopt;
  if (!node.IsScalar())
    throw protocol_error(std::string("request field \"") + key + "\" is not a string", content);
  return node.as<std::string>();
}

std::string required_field(const YAML::Node& root, const char* key, std::string_view content) {
  auto field = text_field(root, key, content);
  if (!field || field->empty()) {
    throw protocol_error(std::string("request without \"") + key + "\"", content);
  }
  return std::move(*field);
}

std::string sqlstate_for(const Error& error) {
  if (!error.sqlstate().empty()) return error.sqlstate();
  switch (error.kind()) {
    case ErrorKind::Usage:
    case ErrorKind::Config: return "22023";       // invalid_parameter_value
    case ErrorKind::Unsupported: return "0A000";  // feature_not_supported
    case ErrorKind::Connection: return "08006";   // connection_failure
    default: return "XX000";                      // internal_error
  }
}

Param non_empty(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return text;
}

}  // namespace

std::optional<Request> parse_request(std::string_view prefix, std::string_view content,
                                     std::string_view catalog_schema) {
  if (prefix != kRequestPrefix) return std::nullopt;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(content));  // JSON is YAML
  } catch (const YAML::Exception& error) {
    throw protocol_error(std::string("malformed SQL API request: ") + error.what(), content);
  }
  if (!root.IsMap()) throw protocol_error("malformed SQL API request: not a JSON object", content);
  try {
    if (required_field(root, "v", content) != "1") {
      throw protocol_error("SQL API request of an unknown version", content);
    }
    Request request;
    request.catalog = required_field(root, "catalog", content);
    if (request.catalog != catalog_schema) return std::nullopt;
    request.id = required_field(root, "id", content);
    request.op = required_field(root, "op", content);
    if (request.op != "create" && request.op != "alter" && request.op != "drop" && request.op != "refresh") {
      throw protocol_error("SQL API request with unknown op \"" + request.op + "\"", content);
    }
    request.name = required_field(root, "name", content);
    request.query = text_field(root, "query", content).value_or("");
    request.schedule = text_field(root, "schedule", content);
    request.refresh_mode = text_field(root, "refresh_mode", content);
    request.status = text_field(root, "status", content);
    if (const YAML::Node initialize = root["initialize"]; initialize && !initialize.IsNull()) {
      request.initialize = initialize.as<bool>();
    }
    request.role = text_field(root, "role", content).value_or("");
    if (const YAML::Node pid = root["pid"]; pid && !pid.IsNull()) request.pid = pid.as<std::int64_t>();
    return request;
  } catch (const YAML::Exception& error) {
    throw protocol_error(std::string("malformed SQL API request: ") + error.what(), content);
  }
}

std::string_view to_string(RequestState state) noexcept {
  switch (state) {
    case RequestState::Received: return "RECEIVED";
    case RequestState::Done: return "DONE";
    case RequestState::Failed: return "FAILED";
  }
  return "FAILED";
}

void answer_request(PgConnection& connection, const std::string& schema, const Request& request,
                    RequestState state, const Error* error) {
  require_idle(connection, "answer_request");
  const std::string requests = table(connection, schema, "pgs_requests");
  Param sqlstate, message, detail, hint;
  if (state == RequestState::Failed) {
    sqlstate = error != nullptr ? sqlstate_for(*error) : "XX000";
    message = error != nullptr ? error->message() : "pgstream could not carry out the request";
    detail = error != nullptr ? non_empty(error->detail()) : std::nullopt;
    hint = error != nullptr ? non_empty(error->hint()) : std::nullopt;
  }
  (void)exec_params(
      connection,
      "INSERT INTO " + requests +
          " (request_id, op, name, state, sqlstate, message, detail, hint)"
          " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
          " ON CONFLICT (request_id) DO UPDATE SET state = EXCLUDED.state,"
          " sqlstate = EXCLUDED.sqlstate, message = EXCLUDED.message, detail = EXCLUDED.detail,"
          " hint = EXCLUDED.hint, updated_at = now()",
      {request.id, request.op, request.name, std::string(to_string(state)), sqlstate, message, detail, hint});
  if (state != RequestState::Received) {
    (void)connection.exec("DELETE FROM " + requests +
                          " WHERE state IN ('DONE', 'FAILED') AND updated_at < now() - interval '1 hour'");
  }
}

void nudge_wal_flush(PgConnection& connection) {
  require_idle(connection, "nudge_wal_flush");
  (void)connection.exec(
      "SELECT CASE WHEN pg_current_wal_insert_lsn() > pg_current_wal_flush_lsn()"
      " THEN pg_logical_emit_message(false, 'pgstream.flush', '') END");
}

std::vector<StreamTableRecord> load_stream_tables(PgConnection& connection, const std::string& schema) {
  const PgResult result = connection.exec(
      "SELECT pgs_id, pgs_relid, pgs_schema, pgs_name, defining_query, original_query, schedule, "
      "refresh_mode,"
      " status, source, frontier_lsn, is_populated, needs_reinit, consecutive_errors, last_error FROM " +
      table(connection, schema, "pgs_stream_tables") + " ORDER BY pgs_id");
  const PGresult* rows = result.get();
  std::vector<StreamTableRecord> records;
  records.reserve(static_cast<std::size_t>(PQntuples(rows)));
  for (int row = 0; row < PQntuples(rows); ++row) {
    StreamTableRecord record;
    record.pgs_id = std::stoll(value(rows, row, 0));
    if (PQgetisnull(rows, row, 1) == 0) {
      record.relid = static_cast<Oid>(std::stoul(value(rows, row, 1)));
    }
    record.schema = value(rows, row, 2);
    record.name = value(rows, row, 3);
    record.defining_query = value(rows, row, 4);
    record.original_query = value(rows, row, 5);
    record.schedule = optional_value(rows, row, 6);
    record.refresh_mode = value(rows, row, 7);
    record.status = value(rows, row, 8);
    record.source = value(rows, row, 9);
    record.frontier_lsn = optional_value(rows, row, 10);
    record.is_populated = value(rows, row, 11) == "t";
    record.needs_reinit = value(rows, row, 12) == "t";
    record.consecutive_errors = std::stoi(value(rows, row, 13));
    record.last_error = optional_value(rows, row, 14);
    records.push_back(std::move(record));
  }
  return records;
}

std::int64_t upsert_stream_table(PgConnection& connection, const std::string& schema,
                                 const StreamTableDefinition& definition) {
  require_idle(connection, "upsert_stream_table");
  const PgResult result = exec_params(
      connection,
      "INSERT INTO " + table(connection, schema, "pgs_stream_tables") +
          " (pgs_schema, pgs_name, defining_query, original_query, schedule, refresh_mode, source)"
          " VALUES ($1, $2, $3, $4, $5, $6, $7)"
          " ON CONFLICT (pgs_schema, pgs_name) DO UPDATE SET defining_query = EXCLUDED.defining_query,"
          " original_query = EXCLUDED.original_query, schedule = EXCLUDED.schedule,"
          " refresh_mode = EXCLUDED.refresh_mode, source = EXCLUDED.source, updated_at = now()"
          " RETURNING pgs_id",
      {definition.schema, definition.name, definition.defining_query, definition.original_query,
       definition.schedule, definition.refresh_mode, definition.source});
  return std::stoll(value(result.get(), 0, 0));
}

void set_status(PgConnection& connection, const std::string& schema, std::int64_t pgs_id,
                std::string_view status, const std::optional<std::string>& error, bool needs_reinit) {
  require_idle(connection, "set_status");
  const PgResult result = exec_params(
      connection,
      "UPDATE " + table(connection, schema, "pgs_stream_tables") +
          " SET status = $2, needs_reinit = $3::boolean,"
          " consecutive_errors = CASE $2 WHEN 'ERROR' THEN consecutive_errors + 1"
          "   WHEN 'ACTIVE' THEN 0 ELSE consecutive_errors END,"
          " last_error = CASE $2 WHEN 'ERROR' THEN $4 WHEN 'ACTIVE' THEN NULL ELSE last_error END,"
          " updated_at = now() WHERE pgs_id = $1",
      {std::to_string(pgs_id), std::string(status), std::string(needs_reinit ? "true" : "false"), error});
  if (std::string_view(PQcmdTuples(result.get())) != "1") {
    throw Error(ErrorKind::Internal, "set_status: no stream table with pgs_id " + std::to_string(pgs_id));
  }
}

void set_explain(PgConnection& connection, const std::string& schema, std::int64_t pgs_id,
                 std::string_view plan) {
  require_idle(connection, "set_explain");
  (void)exec_params(connection,
                    "UPDATE " + table(connection, schema, "pgs_stream_tables") +
                        " SET explain_plan = $2, updated_at = now() WHERE pgs_id = $1",
                    {std::to_string(pgs_id), std::string(plan)});
}

void set_relid(PgConnection& connection, const std::string& schema, std::int64_t pgs_id, Oid relid) {
  require_idle(connection, "set_relid");
  (void)exec_params(connection,
                    "UPDATE " + table(connection, schema, "pgs_stream_tables") +
                        " SET pgs_relid = $2::oid, updated_at = now() WHERE pgs_id = $1",
                    {std::to_string(pgs_id), std::to_string(relid)});
}

void replace_dependencies(PgConnection& connection, const std::string& schema, std::int64_t pgs_id,
                          const std::vector<Dependency>& dependencies) {
  require_idle(connection, "replace_dependencies");
  const std::string dependencies_table = table(connection, schema, "pgs_dependencies");
  const std::string id = std::to_string(pgs_id);
  (void)connection.exec("BEGIN");
  try {
    (void)exec_params(connection, "DELETE FROM " + dependencies_table + " WHERE pgs_id = $1", {id});
    for (const Dependency& dependency : dependencies) {
      (void)exec_params(connection,
                        "INSERT INTO " + dependencies_table +
                            " (pgs_id, source_relid, source_schema, source_name, source_type, columns_used)"
                            " VALUES ($1, $2::oid, $3, $4, $5, $6::text[])",
                        {id, std::to_string(dependency.oid), dependency.schema, dependency.name,
                         dependency.type, text_array(dependency.columns)});
    }
    (void)connection.exec("COMMIT");
  } catch (...) {
    const PgResult ignored(PQexec(connection.get(), "ROLLBACK"));
    throw;
  }
}

void delete_stream_table(PgConnection& connection, const std::string& schema, std::int64_t pgs_id) {
  require_idle(connection, "delete_stream_table");
  (void)exec_params(connection,
                    "DELETE FROM " + table(connection, schema, "pgs_stream_tables") + " WHERE pgs_id = $1",
                    {std::to_string(pgs_id)});
}

}  // namespace pgstream::catalog
