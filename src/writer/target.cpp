#include "pgstream/writer/target.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <string_view>
#include <utility>

#include "merge_statement.hpp"

namespace pgstream::writer {

namespace {

using Shape = std::vector<std::pair<std::string, std::string>>;  // (name, type) in order

void validate(const TargetSpec& spec) {
  auto invalid = [&](const std::string& why) {
    return Error(ErrorKind::Config, "invalid stream table " + spec.display_name() + ": " + why);
  };
  if (spec.columns.empty()) throw invalid("it has no columns");
  for (const auto& column : spec.columns) {
    if (std::string_view(column.name).starts_with("__pgs_")) {
      throw invalid("column \"" + column.name +
                    "\" uses the prefix __pgs_, reserved for pgstream's own columns");
    }
    if (column.type_sql.empty()) throw invalid("column \"" + column.name + "\" has no type");
  }
  std::vector<bool> seen(spec.columns.size(), false);
  for (const int index : spec.key) {
    if (index < 0 || static_cast<std::size_t>(index) >= spec.columns.size()) {
      throw invalid("key column index " + std::to_string(index) + " is out of range");
    }
    if (seen[static_cast<std::size_t>(index)]) throw invalid("key column index repeated");
    seen[static_cast<std::size_t>(index)] = true;
  }
}

Shape expected_shape(const TargetSpec& spec) {
  Shape shape;
  for (const auto& column : spec.columns) shape.emplace_back(column.name, column.type_sql);
  if (!spec.keyed()) shape.emplace_back(kRowIdColumn, "bigint");
  shape.emplace_back(kHashColumn, "bigint");
  return shape;
}

// The columns of the table, or nullopt if there is no such table.
std::optional<Shape> existing_shape(PgConnection& connection, const TargetSpec& spec) {
  const std::string where = "n.nspname = " + connection.quote_literal(spec.schema) +
                            " AND c.relname = " + connection.quote_literal(spec.name);
  PgResult found = connection.exec(
      "SELECT c.relkind FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
      "ON n.oid = c.relnamespace WHERE " +
      where);
  if (PQntuples(found.get()) == 0) return std::nullopt;
  const std::string relkind = PQgetvalue(found.get(), 0, 0);
  if (relkind != "r" && relkind != "p") {
    throw Error(ErrorKind::Config, "stream table " + spec.display_name() + " exists and is not a table",
                {.sqlstate = "",
                 .detail = "pg_class.relkind is '" + relkind + "'",
                 .hint = "Drop or rename it, or give the stream table another name."});
  }
  PgResult columns = connection.exec(
      "SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
      "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid JOIN pg_catalog.pg_namespace n ON n.oid = "
      "c.relnamespace "
      "WHERE " +
      where + " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum");
  Shape shape;
  for (int row = 0; row < PQntuples(columns.get()); ++row) {
    shape.emplace_back(PQgetvalue(columns.get(), row, 0), PQgetvalue(columns.get(), row, 1));
  }
  return shape;
}

std::string describe_difference(const Shape& have, const Shape& want) {
  auto column = [](const std::pair<std::string, std::string>& c) {
    return "\"" + c.first + "\" " + c.second;
  };
  for (std::size_t i = 0; i < have.size() && i < want.size(); ++i) {
    if (have[i] != want[i]) {
      return "column " + std::to_string(i + 1) + " is " + column(have[i]) + ", expected " + column(want[i]);
    }
  }
  if (have.size() > want.size()) return "it has an extra column " + column(have[want.size()]);
  return "it lacks column " + column(want[have.size()]);
}

void create_indexes(PgConnection& connection, const TargetSpec& spec, const std::string& table) {
  if (spec.keyed()) {
    std::string key_columns;
    for (const int index : spec.key) {
      if (!key_columns.empty()) key_columns += ", ";
      key_columns += connection.quote_identifier(spec.columns[static_cast<std::size_t>(index)].name);
    }
    // A key type without a btree operator class (json, point, xml) has no
    // unique index; the MERGE matches on __pgs_hash and the key's text anyway.
    connection.exec("SAVEPOINT pgs_unique_key");
    try {
      connection.exec("CREATE UNIQUE INDEX ON " + table + " (" + key_columns + ") NULLS NOT DISTINCT");
      connection.exec("RELEASE SAVEPOINT pgs_unique_key");
    } catch (const Error& error) {
      if (error.sqlstate() != "42704") throw;  // undefined_object: no default operator class
      connection.exec("ROLLBACK TO SAVEPOINT pgs_unique_key");
      spdlog::info("stream table {}: no unique index on its key ({})", spec.display_name(), error.message());
    }
  }
  connection.exec("CREATE INDEX ON " + table + " (" + kHashColumn + ")");
}

}  // namespace

std::string TargetSpec::display_name() const { return "\"" + schema + "\".\"" + name + "\""; }

TargetState create_target(PgConnection& connection, const TargetSpec& spec) {
  validate(spec);
  const Shape want = expected_shape(spec);
  Transaction transaction(connection);
  if (const auto have = existing_shape(connection, spec)) {
    if (*have != want) {
      throw Error(
          ErrorKind::Config, "stream table " + spec.display_name() + " exists with another shape",
          {.sqlstate = "",
           .detail = describe_difference(*have, want),
           .hint = "Drop the table (DROP TABLE " + qualified_name(connection, spec.schema, spec.name) +
                   ") to let pgstream create it, or give the stream table another name."});
    }
    transaction.commit();
    return TargetState::Kept;
  }
  const std::string table = qualified_name(connection, spec.schema, spec.name);
  std::string columns;
  for (const auto& column : spec.columns) {
    columns += connection.quote_identifier(column.name) + " " + column.type_sql + ", ";
  }
  if (!spec.keyed())
    columns += std::string(kRowIdColumn) + " bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ";
  columns += std::string(kHashColumn) + " bigint NOT NULL";
  // A keyed target is updated in place: room on each page lets an update
  // that keeps the key stay on its page without touching the indexes (HOT).
  connection.exec("CREATE TABLE " + table + " (" + columns + ")" +
                  (spec.keyed() ? " WITH (fillfactor = 70)" : ""));
  create_indexes(connection, spec, table);
  transaction.commit();
  return TargetState::Created;
}

void prepare_session(PgConnection& connection) {
  connection.exec(
      "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'; SET IntervalStyle = 'postgres'; "
      "SET extra_float_digits = 3; SET bytea_output = 'hex'; SET client_encoding = 'UTF8'; "
      "SET standard_conforming_strings = on; SET application_name = 'pgstream writer'");
}

void drop_target(PgConnection& connection, const std::string& schema, const std::string& name) {
  connection.exec("DROP TABLE IF EXISTS " + connection.quote_identifier(schema) + "." +
                  connection.quote_identifier(name));
}

}  // namespace pgstream::writer
