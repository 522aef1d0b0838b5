// ReplicationConnection: a libpq connection in logical replication mode
// (replication=database) and the commands of the streaming replication
// protocol that pg_stream uses; plus the helpers around it that run on
// ordinary connections (snapshot reads, publications, slot checks).
//
// Contract:
// - Each object owns its libpq connection (RAII); movable, not copyable;
//   one thread at a time.
// - Connecting checks that the server is PostgreSQL 15 or newer and maps a
//   role without REPLICATION to its own error. Every failure throws
//   pgstream::Error with SQLSTATE, detail and a hint that names the fix;
//   the five setup problems an operator meets (slot missing, slot
//   invalidated, publication missing, role lacks REPLICATION, wal_level not
//   logical) each have a distinct message (see diagnose_replication_error).
// - Identifiers (slot, publication, schema, table names) are always quoted
//   with PQescapeIdentifier; nothing is concatenated unquoted.
// - Conninfo strings never appear unredacted in errors or logs.
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/common/lsn.hpp"
#include "pgstream/common/pg.hpp"

namespace pgstream::replication {

// The oldest server pg_stream supports (MERGE and pgoutput v2 streaming).
inline constexpr int kMinServerVersion = 150000;

// `conninfo` (key=value or URI) with replication=database added.
[[nodiscard]] std::string with_replication_database(const std::string& conninfo);

struct SystemIdentity {
  std::string system_id;
  std::uint32_t timeline = 0;
  Lsn xlog_pos;
  std::string dbname;
};

enum class SlotLifetime {
  Permanent,
  Temporary,  // dropped by the server when this connection ends
};

struct CreatedSlot {
  std::string slot_name;
  Lsn consistent_point;       // the stream starts exactly here
  std::string snapshot_name;  // valid until the next command on this connection
};

struct TableName {
  std::string schema;
  std::string name;
};

// What pg_replication_slots says about a slot.
struct SlotInfo {
  std::string plugin;
  std::string slot_type;
  std::string database;
  std::string wal_status;  // reserved, extended, unreserved, lost
  std::string active_pid;  // empty when inactive
  Lsn confirmed_flush_lsn;
};

class ReplicationConnection {
 public:
  // Connects (blocking) with replication=database added to `conninfo`.
  explicit ReplicationConnection(const std::string& conninfo);

  [[nodiscard]] PGconn* get() const noexcept { return conn_.get(); }
  [[nodiscard]] int server_version() const noexcept { return PQserverVersion(conn_.get()); }

  [[nodiscard]] SystemIdentity identify_system();

  // CREATE_REPLICATION_SLOT <name> [TEMPORARY] LOGICAL pgoutput (SNAPSHOT 'export').
  // Throws Error(Config) for a name PostgreSQL would reject ([a-z0-9_], < 64).
  // The snapshot can be imported (SnapshotReader) while this connection
  // runs no other command.
  [[nodiscard]] CreatedSlot create_slot(std::string_view name, SlotLifetime lifetime);
  // DROP_REPLICATION_SLOT <name> WAIT.
  void drop_slot(std::string_view name);

  // The slot's row of pg_replication_slots, or nothing.
  [[nodiscard]] std::optional<SlotInfo> find_slot(std::string_view name);

  // Before streaming: wal_level is logical, the slot exists in this
  // database, uses pgoutput and is not invalidated, and every publication
  // exists. Throws the matching distinct error otherwise.
  void check_can_stream(std::string_view slot, const std::vector<std::string>& publications);

  // START_REPLICATION SLOT <slot> LOGICAL <start> (proto_version '2',
  // publication_names ..., streaming 'on', messages 'true'). On return the
  // connection is in COPY BOTH mode.
  void start_replication(std::string_view slot, Lsn start, const std::vector<std::string>& publications);

  [[nodiscard]] std::string quote_identifier(std::string_view name) const;

 private:
  PgResult run(const std::string& command, std::string_view context);
  [[nodiscard]] std::string query_text(const std::string& sql, std::string_view context);

  std::unique_ptr<PGconn, PgConnDeleter> conn_;
};

// Reads tables as of an exported snapshot: BEGIN ISOLATION LEVEL REPEATABLE
// READ, SET TRANSACTION SNAPSHOT, then COPY ... TO STDOUT per table.
class SnapshotReader {
 public:
  SnapshotReader(const std::string& conninfo, std::string_view snapshot_name);

  // Streams every row of `table` (COPY text format, one line without its
  // newline) to `on_row`; returns the row count. `columns` empty means all.
  // The table stays locked (ACCESS SHARE) until finish(); a table truncated
  // or rewritten after the snapshot throws Error 40001 (read it again from a
  // new snapshot).
  std::uint64_t copy_table(const TableName& table, const std::vector<std::string>& columns,
                           const std::function<void(std::string_view)>& on_row);

  // As copy_table, through COPY (SELECT ...), which also reads a
  // partitioned table (COPY of the table itself cannot).
  std::uint64_t copy_select(const TableName& table, const std::vector<std::string>& columns,
                            const std::function<void(std::string_view)>& on_row);

  // Streams every row of `query` (a SELECT), as copy_table does.
  std::uint64_t copy_query(const std::string& query, const std::function<void(std::string_view)>& on_row);

  // Ends the snapshot transaction.
  void finish();

 private:
  void lock_unrewritten(const TableName& table);
  // `table`: the table the COPY reads, locked and checked first.
  std::uint64_t copy_out(const std::string& sql, const std::function<void(std::string_view)>& on_row,
                         const TableName* table = nullptr);

  PgConnection conn_;
};

// Creates `publication` if it does not exist (with the given tables) and
// adds those of `tables` it does not yet publish; it publishes changes of
// partitions as changes of their partitioned table
// (publish_via_partition_root). A publication FOR ALL
// TABLES is left as it is. Safe to call again with the same arguments.
void ensure_publication(PgConnection& conn, std::string_view publication,
                        const std::vector<TableName>& tables);

// Throws Error(Config) unless `name` is a valid replication slot name.
void validate_slot_name(std::string_view name);

// Turns a server error met while setting up or running replication into
// the distinct error for the cases an operator can fix (see the file
// comment); other errors are returned unchanged.
[[nodiscard]] Error diagnose_replication_error(const Error& error, std::string_view slot);

// The distinct errors themselves.
[[nodiscard]] Error slot_missing_error(std::string_view slot);
[[nodiscard]] Error slot_invalidated_error(std::string_view slot);
[[nodiscard]] Error publication_missing_error(std::string_view publication);
[[nodiscard]] Error replication_permission_error(std::string_view server_message);
[[nodiscard]] Error wal_level_error(std::string_view wal_level);

}  // namespace pgstream::replication
