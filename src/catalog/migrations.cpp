#include "pgstream/catalog/migrations.hpp"

#include <array>
#include <string_view>

#include "pgstream/common/error.hpp"

namespace pgstream::catalog {

namespace {

// Migration scripts, in order; "@S@" stands for the quoted schema name.
// Version N is kMigrations[N - 1]. Never edit one that has been released:
// add the next.
constexpr std::array<std::string_view, kCatalogVersion> kMigrations = {
    R"sql(
CREATE TABLE @S@.pgs_stream_tables (
  pgs_id             bigserial PRIMARY KEY,
  pgs_relid          oid,
  pgs_schema         name NOT NULL,
  pgs_name           name NOT NULL,
  defining_query     text NOT NULL,
  original_query     text NOT NULL,
  schedule           text,
  refresh_mode       text NOT NULL DEFAULT 'DIFFERENTIAL' CHECK (refresh_mode IN ('DIFFERENTIAL', 'FULL')),
  status             text NOT NULL DEFAULT 'INITIALIZING'
                     CHECK (status IN ('INITIALIZING', 'ACTIVE', 'SUSPENDED', 'ERROR')),
  is_populated       boolean NOT NULL DEFAULT false,
  frontier_lsn       pg_lsn,
  data_timestamp     timestamptz,
  last_refresh_at    timestamptz,
  consecutive_errors integer NOT NULL DEFAULT 0,
  last_error         text,
  needs_reinit       boolean NOT NULL DEFAULT false,
  source             text NOT NULL CHECK (source IN ('yaml', 'sql')),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (pgs_schema, pgs_name)
);
COMMENT ON TABLE @S@.pgs_stream_tables IS 'pg_stream: one row per stream table';
COMMENT ON COLUMN @S@.pgs_stream_tables.frontier_lsn IS
  'every source transaction that committed before this LSN is reflected in the target, none after it';

CREATE TABLE @S@.pgs_dependencies (
  pgs_id        bigint NOT NULL REFERENCES @S@.pgs_stream_tables ON DELETE CASCADE,
  source_relid  oid NOT NULL,
  source_schema name NOT NULL,
  source_name   name NOT NULL,
  source_type   text NOT NULL CHECK (source_type IN ('TABLE', 'STREAM_TABLE', 'VIEW')),
  columns_used  text[] NOT NULL DEFAULT '{}',
  PRIMARY KEY (pgs_id, source_relid)
);

CREATE TABLE @S@.pgs_refresh_history (
  refresh_id    bigserial PRIMARY KEY,
  pgs_id        bigint NOT NULL REFERENCES @S@.pgs_stream_tables ON DELETE CASCADE,
  frontier_lsn  pg_lsn,
  action        text NOT NULL CHECK (action IN ('DIFFERENTIAL', 'FULL', 'REINITIALIZE')),
  rows_inserted bigint NOT NULL DEFAULT 0,
  rows_updated  bigint NOT NULL DEFAULT 0,
  rows_deleted  bigint NOT NULL DEFAULT 0,
  start_time    timestamptz NOT NULL,
  end_time      timestamptz,
  status        text NOT NULL CHECK (status IN ('SUCCESS', 'FAILED')),
  error         text
);
CREATE INDEX ON @S@.pgs_refresh_history (pgs_id, refresh_id DESC);

-- Read-your-writes: SELECT @S@.wait_for(pg_current_wal_lsn());
-- Each statement of a VOLATILE plpgsql function takes a new snapshot under
-- READ COMMITTED, so the loop sees the daemon's frontier commits; under
-- REPEATABLE READ it never would, hence the error.
CREATE FUNCTION @S@.wait_for(lsn pg_lsn, timeout interval DEFAULT '10s') RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  deadline timestamptz := clock_timestamp() + timeout;
BEGIN
  IF lsn IS NULL THEN
    RAISE EXCEPTION 'wait_for: lsn must not be NULL' USING ERRCODE = '22004';
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'wait_for cannot see progress in a % transaction', current_setting('transaction_isolation')
      USING ERRCODE = '25001', HINT = 'Call it outside the transaction, or in a READ COMMITTED one.';
  END IF;
  LOOP
    IF NOT EXISTS (SELECT 1 FROM @S@.pgs_stream_tables
                   WHERE status = 'ACTIVE' AND (frontier_lsn IS NULL OR frontier_lsn < lsn)) THEN
      RETURN true;
    END IF;
    IF clock_timestamp() >= deadline THEN
      RETURN false;
    END IF;
    PERFORM pg_sleep(0.005);
  END LOOP;
END
$fn$;

-- A stream table's id from its name as a user writes it ('analytics.totals',
-- '"Mixed Case".t', or unqualified for public), parsed by the server's own rules.
CREATE FUNCTION @S@.resolve_stream_table(name text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  parts text[] := parse_ident(name);
  id bigint;
BEGIN
  IF array_length(parts, 1) > 2 THEN
    RAISE EXCEPTION 'improper stream table name "%": at most schema.table', name USING ERRCODE = '42601';
  END IF;
  SELECT pgs_id INTO id FROM @S@.pgs_stream_tables
  WHERE pgs_name = parts[array_length(parts, 1)]
    AND pgs_schema = CASE WHEN array_length(parts, 1) = 2 THEN parts[1] ELSE 'public' END;
  IF id IS NULL THEN
    RAISE EXCEPTION 'stream table "%" does not exist', name USING ERRCODE = '42P01',
      HINT = 'SELECT * FROM @S@.pgs_status() lists the stream tables.';
  END IF;
  RETURN id;
END
$fn$;

CREATE FUNCTION @S@.get_staleness(name text) RETURNS interval
LANGUAGE sql STABLE AS $fn$
  SELECT now() - data_timestamp FROM @S@.pgs_stream_tables WHERE pgs_id = @S@.resolve_stream_table(name)
$fn$;

CREATE FUNCTION @S@.get_refresh_history(name text, max_rows integer DEFAULT 20)
RETURNS SETOF @S@.pgs_refresh_history
LANGUAGE sql STABLE AS $fn$
  SELECT * FROM @S@.pgs_refresh_history WHERE pgs_id = @S@.resolve_stream_table(name)
  ORDER BY refresh_id DESC LIMIT max_rows
$fn$;

CREATE FUNCTION @S@.pgs_status() RETURNS TABLE (
  name text, status text, refresh_mode text, is_populated boolean, frontier_lsn pg_lsn,
  lag_bytes numeric, staleness interval, consecutive_errors integer, last_error text)
LANGUAGE sql STABLE AS $fn$
  SELECT format('%I.%I', pgs_schema, pgs_name), status, refresh_mode, is_populated, frontier_lsn,
         CASE WHEN frontier_lsn IS NULL OR pg_is_in_recovery() THEN NULL
              ELSE greatest(pg_current_wal_lsn() - frontier_lsn, 0) END,
         now() - data_timestamp, consecutive_errors, last_error
  FROM @S@.pgs_stream_tables ORDER BY pgs_schema, pgs_name
$fn$;

CREATE FUNCTION @S@.st_refresh_stats() RETURNS TABLE (
  name text, refreshes bigint, failures bigint, rows_inserted numeric, rows_updated numeric,
  rows_deleted numeric, avg_duration interval, last_refresh_at timestamptz)
LANGUAGE sql STABLE AS $fn$
  SELECT format('%I.%I', t.pgs_schema, t.pgs_name), count(h.refresh_id),
         count(h.refresh_id) FILTER (WHERE h.status = 'FAILED'),
         coalesce(sum(h.rows_inserted), 0), coalesce(sum(h.rows_updated), 0), coalesce(sum(h.rows_deleted), 0),
         avg(h.end_time - h.start_time), max(h.end_time)
  FROM @S@.pgs_stream_tables t LEFT JOIN @S@.pgs_refresh_history h USING (pgs_id)
  GROUP BY t.pgs_id, t.pgs_schema, t.pgs_name ORDER BY t.pgs_schema, t.pgs_name
$fn$;

CREATE FUNCTION @S@.slot_health() RETURNS TABLE (
  slot_name name, active boolean, wal_status text, confirmed_flush_lsn pg_lsn,
  retained_bytes numeric, safe_wal_size bigint)
LANGUAGE sql STABLE AS $fn$
  SELECT s.slot_name, s.active, s.wal_status, s.confirmed_flush_lsn,
         CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn() - s.restart_lsn END,
         s.safe_wal_size
  FROM pg_replication_slots s WHERE s.plugin = 'pgoutput' AND s.database = current_database()
$fn$;

CREATE VIEW @S@.stream_tables_info AS
  SELECT t.*, format('%I.%I', t.pgs_schema, t.pgs_name) AS qualified_name,
         now() - t.data_timestamp AS staleness,
         (SELECT count(*) FROM @S@.pgs_dependencies d WHERE d.pgs_id = t.pgs_id) AS source_count
  FROM @S@.pgs_stream_tables t;

CREATE VIEW @S@.pg_stat_stream_tables AS
  SELECT t.pgs_id, format('%I.%I', t.pgs_schema, t.pgs_name) AS name, t.status,
         count(h.refresh_id) AS refreshes,
         count(h.refresh_id) FILTER (WHERE h.status = 'FAILED') AS failures,
         coalesce(sum(h.rows_inserted), 0) AS rows_inserted,
         coalesce(sum(h.rows_updated), 0) AS rows_updated,
         coalesce(sum(h.rows_deleted), 0) AS rows_deleted,
         max(h.end_time) AS last_refresh_end
  FROM @S@.pgs_stream_tables t LEFT JOIN @S@.pgs_refresh_history h USING (pgs_id)
  GROUP BY t.pgs_id, t.pgs_schema, t.pgs_name, t.status;
)sql",
};

std::string with_schema(std::string_view script, const std::string& quoted_schema) {
  std::string out;
  out.reserve(script.size() + 256);
  std::size_t pos = 0;
  while (true) {
    const auto at = script.find("@S@", pos);
    out.append(script.substr(pos, at == std::string_view::npos ? std::string_view::npos : at - pos));
    if (at == std::string_view::npos) return out;
    out += quoted_schema;
    pos = at + 3;
  }
}

int read_version(PgConnection& connection, const std::string& schema) {
  const std::string exists = connection.query_value(
      "SELECT to_regclass(" +
      connection.quote_literal(connection.quote_identifier(schema) + ".schema_version") + ") IS NOT NULL");
  if (exists != "t") return 0;
  return std::stoi(connection.query_value("SELECT coalesce(max(version), 0) FROM " +
                                          connection.quote_identifier(schema) + ".schema_version"));
}

}  // namespace

int catalog_version(PgConnection& connection, const std::string& schema) {
  return read_version(connection, schema);
}

int migrate(PgConnection& connection, const std::string& schema) {
  const std::string quoted = connection.quote_identifier(schema);
  connection.exec("BEGIN");
  try {
    // One migrator at a time per schema; the lock ends with the transaction.
    connection.exec("SELECT pg_advisory_xact_lock(hashtext(" +
                    connection.quote_literal("pgstream catalog " + schema) + "))");
    connection.exec("CREATE SCHEMA IF NOT EXISTS " + quoted);
    connection.exec(
        "CREATE TABLE IF NOT EXISTS " + quoted +
        ".schema_version (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    const int before = read_version(connection, schema);
    if (before > kCatalogVersion) {
      throw Error(
          ErrorKind::Config,
          "the catalog in schema " + quoted + " has version " + std::to_string(before) +
              ", newer than this pgstream understands (" + std::to_string(kCatalogVersion) + ")",
          {.hint = "Run the newer pgstream that upgraded it, or point postgres.catalog_schema elsewhere."});
    }
    for (int version = before + 1; version <= kCatalogVersion; ++version) {
      connection.exec(with_schema(kMigrations[static_cast<std::size_t>(version - 1)], quoted));
      connection.exec("INSERT INTO " + quoted + ".schema_version (version) VALUES (" +
                      std::to_string(version) + ")");
    }
    connection.exec("COMMIT");
    return before;
  } catch (...) {
    PgResult ignored(PQexec(connection.get(), "ROLLBACK"));
    throw;
  }
}

}  // namespace pgstream::catalog
