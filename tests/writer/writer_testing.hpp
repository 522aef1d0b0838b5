// Helpers of the writer's tests: a catalog with stream-table rows, and the
// contents of a target as a multiset of COPY text lines.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "pgstream/catalog/migrations.hpp"
#include "pgstream/common/error.hpp"
#include "pgstream/writer/apply.hpp"
#include "pgstream/writer/target.hpp"
#include "support/pg_cluster.hpp"

namespace pgstream::writer::testing {

using Multiset = std::map<std::string, std::int64_t>;  // line -> copies

// Migrates the catalog (once) and adds a stream-table row for `spec`,
// returning its pgs_id.
inline std::int64_t register_target(PgConnection& connection, const TargetSpec& spec) {
  (void)catalog::migrate(connection, spec.catalog_schema);
  return std::stoll(connection.query_value(
      "INSERT INTO " + connection.quote_identifier(spec.catalog_schema) +
      ".pgs_stream_tables (pgs_schema, pgs_name, defining_query, original_query, status, source) VALUES (" +
      connection.quote_literal(spec.schema) + ", " + connection.quote_literal(spec.name) +
      ", 'SELECT 1', 'SELECT 1', 'ACTIVE', 'yaml') RETURNING pgs_id"));
}

// The rows of COPY (query) TO STDOUT, counted.
inline Multiset copy_rows(PgConnection& connection, const std::string& query) {
  PgResult start(PQexec(connection.get(), ("COPY (" + query + ") TO STDOUT").c_str()));
  if (PQresultStatus(start.get()) != PGRES_COPY_OUT) throw result_error(connection.get(), start.get(), query);
  Multiset rows;
  for (;;) {
    char* data = nullptr;
    const int size = PQgetCopyData(connection.get(), &data, 0);
    if (size < 0) break;
    ++rows[std::string(data, static_cast<std::size_t>(size) - 1)];
    PQfreemem(data);
  }
  const PgResult end(PQgetResult(connection.get()));
  if (!result_ok(end.get())) throw result_error(connection.get(), end.get(), query);
  while (PgResult(PQgetResult(connection.get()))) {
  }
  return rows;
}

// The user columns of the target.
inline Multiset target_rows(PgConnection& connection, const TargetSpec& spec) {
  std::string columns;
  for (const auto& column : spec.columns) {
    if (!columns.empty()) columns += ", ";
    columns += connection.quote_identifier(column.name);
  }
  return copy_rows(connection, "SELECT " + columns + " FROM " + connection.quote_identifier(spec.schema) +
                                   "." + connection.quote_identifier(spec.name));
}

inline std::string frontier_of(PgConnection& connection, const TargetSpec& spec) {
  return connection.query_value("SELECT frontier_lsn FROM " +
                                connection.quote_identifier(spec.catalog_schema) +
                                ".pgs_stream_tables WHERE pgs_id = " + std::to_string(spec.pgs_id));
}

// COPY text escaping of one raw value.
inline std::string copy_escape(const std::string& raw) {
  std::string out;
  for (const char c : raw) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace pgstream::writer::testing
