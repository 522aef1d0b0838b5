#include "pgstream/replication/replication_connection.hpp"

#include <string>
#include <utility>

namespace pgstream::replication {

namespace {

struct ConninfoOptionsDeleter {
  void operator()(PQconninfoOption* options) const noexcept { PQconninfoFree(options); }
};

struct PqFree {
  void operator()(char* text) const noexcept { PQfreemem(text); }
};

// A conninfo value in single quotes, with \ and ' escaped as libpq expects.
std::string conninfo_value(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

// A string literal for the replication grammar ('' doubles a quote).
std::string replication_literal(std::string_view value) {
  std::string out = "'";
  for (const char c : value) {
    if (c == '\'') out += '\'';
    out += c;
  }
  return out + "'";
}

std::string trim(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::string quote_id(PGconn* conn, std::string_view name) {
  std::unique_ptr<char, PqFree> quoted(PQescapeIdentifier(conn, name.data(), name.size()));
  if (!quoted) throw result_error(conn, nullptr, "quoting an identifier");
  return quoted.get();
}

std::string quote_lit(PGconn* conn, std::string_view value) {
  std::unique_ptr<char, PqFree> quoted(PQescapeLiteral(conn, value.data(), value.size()));
  if (!quoted) throw result_error(conn, nullptr, "quoting a literal");
  return quoted.get();
}

std::string value_at(const PGresult* result, int row, int column) {
  return PQgetisnull(result, row, column) != 0 ? std::string() : std::string(PQgetvalue(result, row, column));
}

Lsn parse_lsn(const std::string& text, std::string_view what) {
  if (text.empty()) return Lsn();
  const auto lsn = Lsn::parse(text);
  if (!lsn)
    throw Error(ErrorKind::Protocol, "the server sent an invalid LSN for " + std::string(what) + ": " + text);
  return *lsn;
}

void check_server_version(PGconn* conn) {
  const int version = PQserverVersion(conn);
  if (version >= kMinServerVersion) return;
  throw Error(
      ErrorKind::Unsupported, "PostgreSQL " + std::to_string(version / 10000) + " is too old for pg_stream",
      {.sqlstate = "0A000",
       .detail = "pg_stream needs PostgreSQL 15 or newer (MERGE, pgoutput protocol version 2 streaming).",
       .hint = "Upgrade the server to PostgreSQL 15 or newer."});
}

}  // namespace

std::string with_replication_database(const std::string& conninfo) {
  char* parse_error = nullptr;
  std::unique_ptr<PQconninfoOption, ConninfoOptionsDeleter> options(
      PQconninfoParse(conninfo.c_str(), &parse_error));
  if (parse_error != nullptr) PQfreemem(parse_error);
  if (!options) {
    throw Error(ErrorKind::Config, "invalid connection string: " + redact_conninfo(conninfo),
                {.hint = "Use libpq's key=value form or a postgresql:// URI."});
  }
  std::string out;
  for (const PQconninfoOption* option = options.get(); option->keyword != nullptr; ++option) {
    if (option->val == nullptr || std::string_view(option->keyword) == "replication") continue;
    out += std::string(option->keyword) + "=" + conninfo_value(option->val) + " ";
  }
  return out + "replication=database";
}

Error replication_permission_error(std::string_view server_message) {
  return Error(
      ErrorKind::Database, "the role may not start logical replication: " + std::string(server_message),
      {.sqlstate = "42501",
       .detail =
           "Reading the replication stream needs a role with the REPLICATION attribute (or a superuser).",
       .hint = "Run ALTER ROLE <the role in postgres.dsn> REPLICATION; as a superuser, or use such a role."});
}

Error slot_missing_error(std::string_view slot) {
  return Error(
      ErrorKind::Database, "replication slot \"" + std::string(slot) + "\" does not exist",
      {.sqlstate = "42704",
       .detail = "pg_stream resumes from its slot; without it the changes since the last run are unknown.",
       .hint = "If the slot was dropped on purpose, start pg_stream so that it creates the slot again and "
               "reinitializes the stream tables; otherwise check postgres.slot and the database in "
               "postgres.dsn."});
}

Error slot_invalidated_error(std::string_view slot) {
  return Error(ErrorKind::Database, "replication slot \"" + std::string(slot) + "\" has been invalidated",
               {.sqlstate = "55000",
                .detail = "Its wal_status is 'lost': the server removed WAL the slot still needed "
                          "(max_slot_wal_keep_size), so changes are missing.",
                .hint = "Drop the slot (SELECT pg_drop_replication_slot('" + std::string(slot) +
                        "')) and restart pg_stream, which recreates it and reinitializes every stream table; "
                        "raise max_slot_wal_keep_size to avoid a repeat."});
}

Error publication_missing_error(std::string_view publication) {
  return Error(ErrorKind::Database, "publication \"" + std::string(publication) + "\" does not exist",
               {.sqlstate = "42704",
                .detail = "pgoutput only sends changes of tables in the publications pg_stream names.",
                .hint = "Create it (CREATE PUBLICATION " + std::string(publication) +
                        ";) or let pg_stream create it at startup; check postgres.publication."});
}

Error wal_level_error(std::string_view wal_level) {
  return Error(ErrorKind::Database,
               "wal_level is '" + std::string(wal_level) + "', logical decoding needs 'logical'",
               {.sqlstate = "55000",
                .detail = "Logical replication slots only work when the server writes logical WAL.",
                .hint = "Run ALTER SYSTEM SET wal_level = logical; and restart the server."});
}

Error diagnose_replication_error(const Error& error, std::string_view slot) {
  const std::string& m = error.message();
  if (contains(m, "replication role") || contains(m, "permission denied to start WAL sender") ||
      contains(m, "must be superuser or have the REPLICATION")) {
    return replication_permission_error(m);
  }
  if (contains(m, "wal_level")) return wal_level_error("replica");
  if (contains(m, "can no longer get changes from replication slot") || contains(m, "has been invalidated")) {
    return slot_invalidated_error(slot);
  }
  if (contains(m, "replication slot") && contains(m, "does not exist")) return slot_missing_error(slot);
  if (contains(m, "publication") && contains(m, "does not exist")) {
    const auto open = m.find('"');
    const auto close = open == std::string::npos ? open : m.find('"', open + 1);
    return publication_missing_error(close == std::string::npos
                                         ? std::string_view("?")
                                         : std::string_view(m).substr(open + 1, close - open - 1));
  }
  return error;
}

ReplicationConnection::ReplicationConnection(const std::string& conninfo)
    : conn_(PQconnectdb(with_replication_database(conninfo).c_str())) {
  if (!conn_) throw Error(ErrorKind::Connection, "out of memory allocating a libpq connection");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    const std::string message = trim(PQerrorMessage(conn_.get()));
    if (contains(message, "replication role") || contains(message, "REPLICATION attribute")) {
      throw replication_permission_error(message);
    }
    throw Error(ErrorKind::Connection, "could not open a replication connection: " + message,
                {.detail = "connection: " + redact_conninfo(conninfo),
                 .hint = "Check postgres.dsn, that the server is up, and that pg_hba.conf allows the role."});
  }
  check_server_version(conn_.get());
}

PgResult ReplicationConnection::run(const std::string& command, std::string_view context) {
  PgResult result(PQexec(conn_.get(), command.c_str()));
  if (!result_ok(result.get())) throw result_error(conn_.get(), result.get(), context);
  return result;
}

std::string ReplicationConnection::query_text(const std::string& sql, std::string_view context) {
  PgResult result = run(sql, context);
  if (PQntuples(result.get()) != 1 || PQnfields(result.get()) < 1) {
    throw Error(ErrorKind::Protocol, std::string(context) + ": expected one row");
  }
  return value_at(result.get(), 0, 0);
}

std::string ReplicationConnection::quote_identifier(std::string_view name) const {
  return quote_id(conn_.get(), name);
}

SystemIdentity ReplicationConnection::identify_system() {
  PgResult result = run("IDENTIFY_SYSTEM", "IDENTIFY_SYSTEM");
  if (PQntuples(result.get()) != 1 || PQnfields(result.get()) < 4) {
    throw Error(ErrorKind::Protocol, "IDENTIFY_SYSTEM returned an unexpected result");
  }
  return {.system_id = value_at(result.get(), 0, 0),
          .timeline = static_cast<std::uint32_t>(std::stoul(value_at(result.get(), 0, 1))),
          .xlog_pos = parse_lsn(value_at(result.get(), 0, 2), "xlogpos"),
          .dbname = value_at(result.get(), 0, 3)};
}

void validate_slot_name(std::string_view name) {
  const bool valid =
      !name.empty() && name.size() < 64 &&
      name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string_view::npos;
  if (valid) return;
  throw Error(
      ErrorKind::Config, "invalid replication slot name \"" + std::string(name) + "\"",
      {.sqlstate = "42602",
       .detail = "PostgreSQL slot names use only lower-case letters, digits and underscores (at most 63).",
       .hint = "Choose another postgres.slot."});
}

CreatedSlot ReplicationConnection::create_slot(std::string_view name, SlotLifetime lifetime) {
  validate_slot_name(name);
  const std::string command = "CREATE_REPLICATION_SLOT " + quote_identifier(name) +
                              (lifetime == SlotLifetime::Temporary ? " TEMPORARY" : "") +
                              " LOGICAL pgoutput (SNAPSHOT 'export')";
  PgResult result;
  try {
    result = run(command, "creating replication slot \"" + std::string(name) + "\"");
  } catch (const Error& e) {
    throw diagnose_replication_error(e, name);
  }
  if (PQntuples(result.get()) != 1 || PQnfields(result.get()) < 4) {
    throw Error(ErrorKind::Protocol, "CREATE_REPLICATION_SLOT returned an unexpected result");
  }
  return {.slot_name = value_at(result.get(), 0, 0),
          .consistent_point = parse_lsn(value_at(result.get(), 0, 1), "consistent_point"),
          .snapshot_name = value_at(result.get(), 0, 2)};
}

void ReplicationConnection::drop_slot(std::string_view name) {
  run("DROP_REPLICATION_SLOT " + quote_identifier(name) + " WAIT",
      "dropping replication slot \"" + std::string(name) + "\"");
}

std::optional<SlotInfo> ReplicationConnection::find_slot(std::string_view name) {
  PgResult result =
      run("SELECT plugin, slot_type, database, wal_status, active_pid, confirmed_flush_lsn "
          "FROM pg_catalog.pg_replication_slots WHERE slot_name = " +
              quote_lit(conn_.get(), name),
          "looking up replication slot");
  if (PQntuples(result.get()) == 0) return std::nullopt;
  const PGresult* r = result.get();
  return SlotInfo{.plugin = value_at(r, 0, 0),
                  .slot_type = value_at(r, 0, 1),
                  .database = value_at(r, 0, 2),
                  .wal_status = value_at(r, 0, 3),
                  .active_pid = value_at(r, 0, 4),
                  .confirmed_flush_lsn = parse_lsn(value_at(r, 0, 5), "confirmed_flush_lsn")};
}

void ReplicationConnection::check_can_stream(std::string_view slot,
                                             const std::vector<std::string>& publications) {
  const std::string wal_level = query_text("SHOW wal_level", "reading wal_level");
  if (wal_level != "logical") throw wal_level_error(wal_level);
  const auto info = find_slot(slot);
  if (!info) throw slot_missing_error(slot);
  if (info->wal_status == "lost") throw slot_invalidated_error(slot);
  if (info->slot_type != "logical" || info->plugin != "pgoutput") {
    throw Error(
        ErrorKind::Config, "replication slot \"" + std::string(slot) + "\" is not a pgoutput slot",
        {.sqlstate = "55000",
         .detail = "It is a " + info->slot_type + " slot with plugin '" + info->plugin + "'.",
         .hint = "Name another slot in postgres.slot, or drop this one so that pg_stream creates its own."});
  }
  const std::string database = query_text("SELECT current_database()", "reading the database name");
  if (info->database != database) {
    throw Error(ErrorKind::Config,
                "replication slot \"" + std::string(slot) + "\" belongs to database \"" + info->database +
                    "\", not \"" + database + "\"",
                {.sqlstate = "55000",
                 .hint = "Name another slot in postgres.slot or fix the dbname in postgres.dsn."});
  }
  for (const std::string& publication : publications) {
    PgResult found =
        run("SELECT 1 FROM pg_catalog.pg_publication WHERE pubname = " + quote_lit(conn_.get(), publication),
            "looking up publication");
    if (PQntuples(found.get()) == 0) throw publication_missing_error(publication);
  }
}

void ReplicationConnection::start_replication(std::string_view slot, Lsn start,
                                              const std::vector<std::string>& publications) {
  std::string names;
  for (const std::string& publication : publications) {
    if (!names.empty()) names += ',';
    names += quote_identifier(publication);
  }
  const std::string command = "START_REPLICATION SLOT " + quote_identifier(slot) + " LOGICAL " +
                              start.to_string() + " (proto_version '2', publication_names " +
                              replication_literal(names) + ", streaming 'on', messages 'true')";
  PgResult result(PQexec(conn_.get(), command.c_str()));
  if (PQresultStatus(result.get()) != PGRES_COPY_BOTH) {
    throw diagnose_replication_error(result_error(conn_.get(), result.get(), "starting replication"), slot);
  }
}

SnapshotReader::SnapshotReader(const std::string& conninfo, std::string_view snapshot_name)
    : conn_(conninfo) {
  conn_.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
  conn_.exec("SET TRANSACTION SNAPSHOT " + conn_.quote_literal(snapshot_name));
}

// A snapshot does not see past a rewrite of a table (TRUNCATE, a rewriting
// ALTER TABLE) that committed after it: the table would look empty, or
// wrong. Locked first, so that none can commit until this transaction ends;
// then its file is compared as the snapshot saw it and as it is now.
void SnapshotReader::lock_unrewritten(const TableName& table) {
  const std::string name = conn_.quote_identifier(table.schema) + "." + conn_.quote_identifier(table.name);
  conn_.exec("LOCK TABLE " + name + " IN ACCESS SHARE MODE");
  const std::string oid = conn_.quote_literal(name) + "::regclass";
  const std::string rewritten = conn_.query_value(
      "SELECT count(*) FROM pg_catalog.pg_class c WHERE c.oid IN (SELECT " + oid +
      " UNION SELECT relid FROM pg_catalog.pg_partition_tree(" + oid +
      ")) AND c.relfilenode <> 0 AND c.relfilenode IS DISTINCT FROM pg_catalog.pg_relation_filenode(c.oid)");
  if (rewritten != "0") {
    throw Error(ErrorKind::Database,
                "table " + table.schema + "." + table.name +
                    " was truncated or rewritten after the snapshot it was to be read in",
                {.sqlstate = "40001", .detail = "", .hint = "It is read again from a new snapshot."});
  }
}

std::uint64_t SnapshotReader::copy_table(const TableName& table, const std::vector<std::string>& columns,
                                         const std::function<void(std::string_view)>& on_row) {
  std::string list;
  for (const std::string& column : columns)
    list += (list.empty() ? "" : ", ") + conn_.quote_identifier(column);
  return copy_out("COPY " + conn_.quote_identifier(table.schema) + "." + conn_.quote_identifier(table.name) +
                      (list.empty() ? "" : " (" + list + ")") + " TO STDOUT",
                  on_row, &table);
}

std::uint64_t SnapshotReader::copy_select(const TableName& table, const std::vector<std::string>& columns,
                                          const std::function<void(std::string_view)>& on_row) {
  std::string list;
  for (const std::string& column : columns)
    list += (list.empty() ? "" : ", ") + conn_.quote_identifier(column);
  return copy_out("COPY (SELECT " + (list.empty() ? std::string("*") : list) + " FROM " +
                      conn_.quote_identifier(table.schema) + "." + conn_.quote_identifier(table.name) +
                      "\n) TO STDOUT",
                  on_row, &table);
}

std::uint64_t SnapshotReader::copy_query(const std::string& query,
                                         const std::function<void(std::string_view)>& on_row) {
  return copy_out("COPY (" + query + "\n) TO STDOUT", on_row);
}

// Each COPY runs under a savepoint: one failing (a table dropped meanwhile)
// leaves the snapshot usable for the others.
std::uint64_t SnapshotReader::copy_out(const std::string& sql,
                                       const std::function<void(std::string_view)>& on_row,
                                       const TableName* table) {
  conn_.exec("SAVEPOINT pgstream_copy");
  try {
    if (table != nullptr) lock_unrewritten(*table);
    PgResult started(PQexec(conn_.get(), sql.c_str()));
    if (PQresultStatus(started.get()) != PGRES_COPY_OUT) throw result_error(conn_.get(), started.get(), sql);
    std::uint64_t rows = 0;
    for (;;) {
      char* line = nullptr;
      const int size = PQgetCopyData(conn_.get(), &line, 0);
      if (size < 0) break;
      std::unique_ptr<char, PqFree> owned(line);
      std::string_view row(line, static_cast<std::size_t>(size));
      if (!row.empty() && row.back() == '\n') row.remove_suffix(1);
      on_row(row);
      ++rows;
    }
    PgResult done(PQgetResult(conn_.get()));
    if (!result_ok(done.get())) throw result_error(conn_.get(), done.get(), sql);
    while (PgResult extra{PQgetResult(conn_.get())}) {
    }
    conn_.exec("RELEASE SAVEPOINT pgstream_copy");
    return rows;
  } catch (...) {
    // A consumer that threw mid-COPY leaves the COPY running: cancel it (or
    // the drain below would read the rest of the table), then drain it.
    if (PQtransactionStatus(conn_.get()) == PQTRANS_ACTIVE) {
      if (PGcancel* cancel = PQgetCancel(conn_.get())) {
        char error[256];
        (void)PQcancel(cancel, error, sizeof error);
        PQfreeCancel(cancel);
      }
    }
    while (PgResult extra{PQgetResult(conn_.get())}) {
      if (PQresultStatus(extra.get()) == PGRES_COPY_OUT) {
        char* line = nullptr;
        while (PQgetCopyData(conn_.get(), &line, 0) >= 0) PQfreemem(line);
      }
    }
    if (PQstatus(conn_.get()) == CONNECTION_OK) {
      PgResult rolled(PQexec(conn_.get(), "ROLLBACK TO SAVEPOINT pgstream_copy"));
    }
    throw;
  }
}

void SnapshotReader::finish() { conn_.exec("COMMIT"); }

void ensure_publication(PgConnection& conn, std::string_view publication,
                        const std::vector<TableName>& tables) {
  const std::string name = conn.quote_literal(publication);
  PgResult found = conn.exec("SELECT puballtables FROM pg_catalog.pg_publication WHERE pubname = " + name);
  if (PQntuples(found.get()) == 1 && std::string_view(PQgetvalue(found.get(), 0, 0)) == "t") return;
  std::string missing;
  for (const TableName& table : tables) {
    const std::string qualified =
        conn.quote_identifier(table.schema) + "." + conn.quote_identifier(table.name);
    if (PQntuples(found.get()) == 1) {
      PgResult published =
          conn.exec("SELECT 1 FROM pg_catalog.pg_publication_tables WHERE pubname = " + name +
                    " AND schemaname = " + conn.quote_literal(table.schema) +
                    " AND tablename = " + conn.quote_literal(table.name));
      if (PQntuples(published.get()) != 0) continue;
    }
    missing += (missing.empty() ? "" : ", ") + qualified;
  }
  const std::string id = conn.quote_identifier(publication);
  // Changes of a partition then arrive as changes of the partitioned table
  // the query names (one relation, one replica identity).
  if (PQntuples(found.get()) == 0) {
    conn.exec("CREATE PUBLICATION " + id + (missing.empty() ? std::string() : " FOR TABLE " + missing) +
              " WITH (publish_via_partition_root = true)");
    return;
  }
  conn.exec("ALTER PUBLICATION " + id + " SET (publish_via_partition_root = true)");
  if (!missing.empty()) {
    conn.exec("ALTER PUBLICATION " + id + " ADD TABLE " + missing);
  }
}

}  // namespace pgstream::replication
