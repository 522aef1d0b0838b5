// A stream table as the writer sees it ("target"): its user columns, its key,
// and the internal columns the writer adds. See docs/WRITER.md.
//
// Table design:
// - keyed (TargetSpec::key not empty): the user columns, then
//   `__pgs_hash bigint NOT NULL` (stable_hash of the key fields). A unique
//   index on the key columns (NULLS NOT DISTINCT) when every key type has a
//   btree operator class, and an index on __pgs_hash.
// - keyless: the user columns, then `__pgs_row_id bigint GENERATED ALWAYS AS
//   IDENTITY PRIMARY KEY` and `__pgs_hash bigint NOT NULL` (stable_hash of the
//   whole line), indexed. Equal rows are real duplicate rows.
//
// Contract: identifiers are always quoted; any schema, table or column name
// is safe. TargetColumn::type_sql is spliced into SQL as it is: it must come
// from the server's format_type(), evaluated under the search_path of the
// writer's connections. Functions throw pgstream::Error; a failed
// create_target() leaves nothing behind (one transaction). Not thread-safe per
// connection (libpq's rule); different connections may be used in parallel.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pgstream/common/pg.hpp"

namespace pgstream::writer {

struct TargetColumn {
  std::string name;
  std::string type_sql;  // as format_type(oid, typmod) prints it: "numeric(12,2)", "text", "integer[]"
};

struct TargetSpec {
  std::string schema;
  std::string name;
  std::vector<TargetColumn> columns;  // user-visible columns, in order
  std::vector<int> key;               // indexes into columns of a unique key of the result; empty = keyless
  std::string catalog_schema = "pgstream";
  std::int64_t pgs_id = 0;  // the row in <catalog_schema>.pgs_stream_tables

  [[nodiscard]] bool keyed() const noexcept { return !key.empty(); }
  // "schema"."name", quoted for humans (messages), not for SQL.
  [[nodiscard]] std::string display_name() const;
};

// What create_target() found.
enum class TargetState {
  Created,  // the table did not exist and was created
  Kept,     // it existed with exactly this shape (a restart) and was kept
};

// Creates the target table with its internal columns and indexes. If it
// exists with exactly these user columns (names and types, in order) and the
// internal columns, it is kept. Throws Error{Config} naming the table and the
// difference if it exists with another shape (hint: drop it), or if the spec
// is invalid (no columns, a key index out of range, a column named __pgs_*).
TargetState create_target(PgConnection& connection, const TargetSpec& spec);

// The session settings every writer connection needs, so that values are
// parsed and printed the way the engine prints them: TimeZone UTC, DateStyle
// ISO, IntervalStyle postgres, extra_float_digits 3, bytea_output hex,
// client_encoding UTF8, application_name 'pgstream writer'. Call once per new
// connection. search_path is left alone (type_sql depends on it).
void prepare_session(PgConnection& connection);

// DROP TABLE IF EXISTS of a target (its stream table was dropped).
void drop_target(PgConnection& connection, const std::string& schema, const std::string& name);

}  // namespace pgstream::writer
