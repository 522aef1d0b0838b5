#include "pgstream/catalog/migrations.hpp"

#include <array>
#include <string_view>

#include "pgstream/common/error.hpp"

namespace pgstream::catalog {

namespace {

// Migration scripts, in order; "@S@" stands for the quoted schema name, "@L@"
// for the schema name as a string literal.
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
    // Version 2: the SQL API (create/alter/drop/refresh_stream_table) as a
    // request/answer protocol with the daemon, and explain_st().
    R"sql(
ALTER TABLE @S@.pgs_stream_tables ADD COLUMN explain_plan text;
COMMENT ON COLUMN @S@.pgs_stream_tables.explain_plan IS 'pg_stream: the operator plan, written by the daemon';

-- One row per SQL API request, written only by the daemon (in its own
-- committed transactions): RECEIVED when it read the request from its
-- replication stream, then DONE or FAILED (with PostgreSQL's error parts).
CREATE TABLE @S@.pgs_requests (
  request_id uuid PRIMARY KEY,
  op         text NOT NULL CHECK (op IN ('create', 'alter', 'drop', 'refresh')),
  name       text NOT NULL,
  state      text NOT NULL CHECK (state IN ('RECEIVED', 'DONE', 'FAILED')),
  sqlstate   text,
  message    text,
  detail     text,
  hint       text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE @S@.pgs_requests IS 'pg_stream: SQL API requests and the daemon''s answers';

-- The SQL API's one round trip to the daemon (see docs/CATALOG.md).
-- The request travels as a NON-transactional logical decoding message, which
-- the daemon's replication stream (messages 'true') receives without waiting
-- for this transaction to commit: NOTIFY or a row would only become visible at
-- commit, and the caller is still inside its transaction while it waits here.
-- Consequence: the request happens even if the caller's transaction later
-- rolls back, and even if the caller gives up waiting (timeout, cancel).
-- PostgreSQL before 17 does not flush a non-transactional message's WAL;
-- the daemon nudges the WAL writer while it runs (catalog::nudge_wal_flush).
-- The answer is read from pgs_requests: each statement of a VOLATILE plpgsql
-- function takes a new snapshot under READ COMMITTED, so the loop sees the
-- daemon's commits; under REPEATABLE READ it never would, hence the error.
CREATE FUNCTION @S@.pgs_request(op text, name text, query text DEFAULT NULL, schedule text DEFAULT NULL,
                                 refresh_mode text DEFAULT NULL, initialize boolean DEFAULT NULL,
                                 status text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  id uuid := gen_random_uuid();
  ack_timeout interval := coalesce(nullif(current_setting('pgstream.ack_timeout', true), ''), '5s')::interval;
  request_timeout interval :=
    coalesce(nullif(current_setting('pgstream.request_timeout', true), ''), '10min')::interval;
  started timestamptz := clock_timestamp();
  pause float8 := 0.02;
  request text;
  answer record;
  code text;
BEGIN
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION '%_stream_table cannot wait for the pgstream daemon in a % transaction',
      op, current_setting('transaction_isolation')
      USING ERRCODE = '25001', HINT = 'Call it outside the transaction, or in a READ COMMITTED one.';
  END IF;
  request := json_build_object('v', 1, 'id', id, 'catalog', @L@, 'op', op, 'name', name,
                               'query', query, 'schedule', schedule, 'refresh_mode', refresh_mode,
                               'initialize', initialize, 'status', status,
                               'role', current_user, 'pid', pg_backend_pid())::text;
  IF current_setting('server_version_num')::integer >= 170000 THEN
    EXECUTE 'SELECT pg_logical_emit_message(false, $1, $2, true)' USING 'pgstream', request;  -- and flush
  ELSE
    PERFORM pg_logical_emit_message(false, 'pgstream', request);
  END IF;
  LOOP
    SELECT r.state, r.sqlstate, r.message, r.detail, r.hint INTO answer
    FROM @S@.pgs_requests r WHERE r.request_id = id;
    IF answer.state = 'DONE' THEN
      RETURN;
    ELSIF answer.state = 'FAILED' THEN
      code := CASE WHEN answer.sqlstate ~ '^[0-9A-Z]{5}$' AND left(answer.sqlstate, 2) NOT IN ('00', '01', '02')
                   THEN answer.sqlstate ELSE 'XX000' END;
      answer.message := coalesce(answer.message, format('pgstream could not %s stream table %s', op, name));
      IF answer.detail IS NULL AND answer.hint IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = answer.message, ERRCODE = code;
      ELSIF answer.hint IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = answer.message, ERRCODE = code, DETAIL = answer.detail;
      ELSIF answer.detail IS NULL THEN
        RAISE EXCEPTION USING MESSAGE = answer.message, ERRCODE = code, HINT = answer.hint;
      ELSE
        RAISE EXCEPTION USING MESSAGE = answer.message, ERRCODE = code, DETAIL = answer.detail, HINT = answer.hint;
      END IF;
    ELSIF answer.state IS NULL AND clock_timestamp() >= started + ack_timeout THEN
      RAISE EXCEPTION 'no pgstream daemon answered the % request for stream table % within %', op, name, ack_timeout
        USING ERRCODE = '55000',
        DETAIL = format('Request %s was sent as a logical decoding message with prefix "pgstream" for catalog schema %s.',
                        id, @L@),
        HINT = format('Is pgstream running against this database with postgres.catalog_schema = %s? '
                      'A daemon that reads the request later still carries it out. '
                      'SET pgstream.ack_timeout to wait longer.', @L@);
    ELSIF answer.state = 'RECEIVED' AND clock_timestamp() >= started + request_timeout THEN
      RAISE EXCEPTION 'the pgstream daemon did not finish the % request for stream table % within %',
        op, name, request_timeout
        USING ERRCODE = '57014',
        DETAIL = format('Request %s is still in progress; the daemon carries it out regardless.', id),
        HINT = format('SELECT * FROM %I.pgs_requests WHERE request_id = %L shows its outcome. '
                      'SET pgstream.request_timeout to wait longer.', @L@, id);
    END IF;
    PERFORM pg_sleep(pause);
    pause := least(pause * 1.5, 0.1);
  END LOOP;
END
$fn$;

-- A stream table name as the user wrote it ('analytics.totals', '"Mixed".t',
-- unqualified for public, as resolve_stream_table reads it), in canonical
-- quoted form: schema.table.
CREATE FUNCTION @S@.pgs_canonical_name(name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
DECLARE
  parts text[];
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION 'stream table name must not be NULL' USING ERRCODE = '22004';
  END IF;
  parts := parse_ident(name);
  IF array_length(parts, 1) > 2 THEN
    RAISE EXCEPTION 'improper stream table name "%": at most schema.table', name USING ERRCODE = '42601';
  END IF;
  RETURN CASE WHEN array_length(parts, 1) = 2 THEN format('%I.%I', parts[1], parts[2])
              ELSE format('public.%I', parts[1]) END;
END
$fn$;

-- The canonical name of an existing stream table (errors if there is none).
CREATE FUNCTION @S@.pgs_existing_name(name text) RETURNS text
LANGUAGE sql STABLE AS $fn$
  SELECT format('%I.%I', pgs_schema, pgs_name) FROM @S@.pgs_stream_tables
  WHERE pgs_id = @S@.resolve_stream_table(@S@.pgs_canonical_name(name))
$fn$;

CREATE FUNCTION @S@.pgs_check_refresh_mode(refresh_mode text) RETURNS text
LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
  IF refresh_mode IS NOT NULL AND upper(refresh_mode) NOT IN ('DIFFERENTIAL', 'FULL') THEN
    RAISE EXCEPTION 'invalid refresh_mode "%"', refresh_mode USING ERRCODE = '22023',
      HINT = 'refresh_mode is DIFFERENTIAL or FULL.';
  END IF;
  RETURN upper(refresh_mode);
END
$fn$;

-- Returns once the stream table exists and (with initialize) is populated,
-- or raises the daemon's error.
CREATE FUNCTION @S@.create_stream_table(name text, query text, schedule text DEFAULT NULL,
                                         refresh_mode text DEFAULT 'DIFFERENTIAL',
                                         initialize boolean DEFAULT true) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  canonical text := @S@.pgs_canonical_name(name);
BEGIN
  IF query IS NULL OR btrim(query) = '' THEN
    RAISE EXCEPTION 'create_stream_table: query must not be empty' USING ERRCODE = '22023';
  END IF;
  IF EXISTS (SELECT 1 FROM @S@.pgs_stream_tables t
             WHERE format('%I.%I', t.pgs_schema, t.pgs_name) = canonical) THEN
    RAISE EXCEPTION 'stream table % already exists', canonical USING ERRCODE = '42P07',
      HINT = 'alter_stream_table changes its definition.';
  END IF;
  PERFORM @S@.pgs_request('create', canonical, query, schedule,
                          coalesce(@S@.pgs_check_refresh_mode(refresh_mode), 'DIFFERENTIAL'),
                          coalesce(initialize, true));
END
$fn$;

-- NULL arguments leave that part unchanged; status is ACTIVE or SUSPENDED.
CREATE FUNCTION @S@.alter_stream_table(name text, query text DEFAULT NULL, schedule text DEFAULT NULL,
                                        refresh_mode text DEFAULT NULL, status text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  canonical text := @S@.pgs_existing_name(name);
BEGIN
  IF query IS NOT NULL AND btrim(query) = '' THEN
    RAISE EXCEPTION 'alter_stream_table: query must not be empty' USING ERRCODE = '22023';
  END IF;
  IF status IS NOT NULL AND upper(status) NOT IN ('ACTIVE', 'SUSPENDED') THEN
    RAISE EXCEPTION 'invalid status "%"', status USING ERRCODE = '22023',
      HINT = 'alter_stream_table sets status ACTIVE or SUSPENDED.';
  END IF;
  IF query IS NULL AND schedule IS NULL AND refresh_mode IS NULL AND status IS NULL THEN
    RAISE EXCEPTION 'alter_stream_table: nothing to change' USING ERRCODE = '22023',
      HINT = 'Pass at least one of query, schedule, refresh_mode, status.';
  END IF;
  PERFORM @S@.pgs_request('alter', canonical, query, schedule, @S@.pgs_check_refresh_mode(refresh_mode),
                          NULL, upper(status));
END
$fn$;

CREATE FUNCTION @S@.drop_stream_table(name text) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM @S@.pgs_request('drop', @S@.pgs_existing_name(name));
END
$fn$;

-- Recompute the stream table now and reconcile its target.
CREATE FUNCTION @S@.refresh_stream_table(name text) RETURNS void
LANGUAGE plpgsql VOLATILE AS $fn$
BEGIN
  PERFORM @S@.pgs_request('refresh', @S@.pgs_existing_name(name));
END
$fn$;

-- The operator plan the daemon maintains the stream table with (NULL until
-- the daemon has planned it).
CREATE FUNCTION @S@.explain_st(name text) RETURNS text
LANGUAGE sql STABLE AS $fn$
  SELECT explain_plan FROM @S@.pgs_stream_tables WHERE pgs_id = @S@.resolve_stream_table(name)
$fn$;
)sql",
};

// The script with "@S@" replaced by the quoted schema name and "@L@" by the
// schema name as a string literal.
std::string with_schema(std::string_view script, const std::string& quoted_schema,
                        const std::string& literal_schema) {
  std::string out;
  out.reserve(script.size() + 256);
  std::size_t pos = 0;
  while (true) {
    const auto at = script.find('@', pos);
    if (at == std::string_view::npos) {
      out.append(script.substr(pos));
      return out;
    }
    out.append(script.substr(pos, at - pos));
    const std::string_view tag = script.substr(at, 3);
    if (tag == "@S@") {
      out += quoted_schema;
      pos = at + 3;
    } else if (tag == "@L@") {
      out += literal_schema;
      pos = at + 3;
    } else {
      out += '@';
      pos = at + 1;
    }
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

int migrate(PgConnection& connection, const std::string& schema, int target_version) {
  if (target_version < 1 || target_version > kCatalogVersion) {
    throw Error(ErrorKind::Internal, "migrate: no catalog version " + std::to_string(target_version));
  }
  const std::string quoted = connection.quote_identifier(schema);
  const std::string literal = connection.quote_literal(schema);
  // Function bodies are quoted with $fn$, and migration 1 puts the quoted
  // schema name inside a string literal (resolve_stream_table's HINT).
  if (schema.find("$fn$") != std::string::npos || schema.find('\'') != std::string::npos) {
    throw Error(ErrorKind::Config, "the catalog schema name must not contain \"$fn$\" or \"'\": " + quoted,
                {.hint = "Choose another postgres.catalog_schema."});
  }
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
    for (int version = before + 1; version <= target_version; ++version) {
      connection.exec(with_schema(kMigrations[static_cast<std::size_t>(version - 1)], quoted, literal));
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
