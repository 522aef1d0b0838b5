#include "merge_statement.hpp"

#include <cinttypes>
#include <cstdio>

#include "pgstream/writer/copy_line.hpp"

namespace pgstream::writer {

namespace {

std::string join(const std::vector<std::string>& parts, const std::string& prefix = "",
                 const std::string& suffix = "") {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += ", ";
    out += prefix;
    out += part;
    out += suffix;
  }
  return out;
}

// A name for the staging table that changes with the target's shape, so that
// a target dropped and recreated with other columns gets a new staging table.
std::string staging_table_name(const TargetSpec& spec) {
  std::string shape = spec.schema + '\0' + spec.name;
  for (const auto& column : spec.columns) shape += '\0' + column.name + '\0' + column.type_sql;
  for (const int index : spec.key) shape += '\0' + std::to_string(index);
  char name[40];
  std::snprintf(name, sizeof name, "pgs_stage_%016" PRIx64, static_cast<std::uint64_t>(stable_hash(shape)));
  return name;
}

}  // namespace

std::string qualified_name(const PgConnection& connection, const std::string& schema,
                           const std::string& name) {
  return connection.quote_identifier(schema) + "." + connection.quote_identifier(name);
}

MergeStatement MergeStatement::build(const PgConnection& connection, const TargetSpec& spec) {
  MergeStatement out;
  out.target = qualified_name(connection, spec.schema, spec.name);
  const std::string staging_name = connection.quote_identifier(staging_table_name(spec));
  out.staging = "pg_temp." + staging_name;

  std::vector<std::string> names;        // quoted user column names
  std::vector<std::string> definitions;  // name type
  std::vector<bool> is_key(spec.columns.size(), false);
  for (const int index : spec.key) is_key[static_cast<std::size_t>(index)] = true;
  for (const auto& column : spec.columns) {
    names.push_back(connection.quote_identifier(column.name));
    definitions.push_back(names.back() + " " + column.type_sql);
  }
  const std::string extra = spec.keyed() ? kOpColumn : kWeightColumn;
  const std::string extra_type = spec.keyed() ? "text" : "bigint";
  out.create_staging = "CREATE TEMP TABLE IF NOT EXISTS " + staging_name + " (" + join(definitions) + ", " +
                       kHashColumn + " bigint NOT NULL, " + extra + " " + extra_type +
                       " NOT NULL) ON COMMIT DELETE ROWS";
  out.copy_in =
      "COPY " + out.staging + " (" + join(names) + ", " + kHashColumn + ", " + extra + ") FROM STDIN";
  out.copy_in_binary = out.copy_in + " (FORMAT binary)";
  out.copy_out = "COPY (SELECT " + join(names) + ", " + kHashColumn + " FROM " + out.target + ") TO STDOUT";

  const std::string insert = "INSERT (" + join(names) + ", " + kHashColumn + ") VALUES (" +
                             join(names, "src.") + ", src." + kHashColumn + ")";
  if (spec.keyed()) {
    std::string on = std::string("t.") + kHashColumn + " = src." + kHashColumn;
    std::vector<std::string> sets;
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (is_key[i]) {
        on += " AND t." + names[i] + "::text IS NOT DISTINCT FROM src." + names[i] + "::text";
      } else {
        sets.push_back(names[i] + " = src." + names[i]);
      }
    }
    // Every column is a key (DISTINCT): a matched upsert changes nothing, but
    // still counts as the update it is.
    if (sets.empty()) sets.push_back(std::string(kHashColumn) + " = src." + kHashColumn);
    out.merge = "MERGE INTO " + out.target + " t USING " + out.staging + " src ON " + on +
                " WHEN MATCHED AND src." + kOpColumn + " = 'D' THEN DELETE WHEN MATCHED THEN UPDATE SET " +
                join(sets) + " WHEN NOT MATCHED AND src." + kOpColumn + " = 'U' THEN " + insert;
  } else {
    // Deletions: for each staged row of weight w < 0, -w existing copies
    // (same hash, equal text of every column). Insertions: one staged row per
    // copy (weight 1), expanded by the client: a generate_series() here makes
    // the planner expect 1000 copies per row and hash-join the whole target.
    const std::string same_content = "ROW(" + join(names, "e.", "::text") + ") IS NOT DISTINCT FROM ROW(" +
                                     join(names, "s.", "::text") + ")";
    out.merge = "MERGE INTO " + out.target + " t USING (SELECT x." + kRowIdColumn + ", " + join(names, "s.") +
                ", s." + kHashColumn + " FROM " + out.staging + " s CROSS JOIN LATERAL (SELECT e." +
                kRowIdColumn + " FROM " + out.target + " e WHERE e." + kHashColumn + " = s." + kHashColumn +
                " AND " + same_content + " LIMIT -s." + kWeightColumn + ") x WHERE s." + kWeightColumn +
                " < 0 UNION ALL SELECT NULL::bigint, " + join(names, "s.") + ", s." + kHashColumn + " FROM " +
                out.staging + " s WHERE s." + kWeightColumn + " > 0) src ON t." + kRowIdColumn + " = src." +
                kRowIdColumn + " WHEN MATCHED THEN DELETE WHEN NOT MATCHED THEN " + insert;
  }
  return out;
}

Transaction::Transaction(PgConnection& connection, const std::string& also) : connection_(connection) {
  try {
    connection_.exec(also.empty() ? std::string("BEGIN") : "BEGIN; " + also);
  } catch (...) {
    rollback();  // BEGIN may have succeeded and `also` failed
    throw;
  }
}

Transaction::~Transaction() {
  if (open_) rollback();
}

void Transaction::rollback() noexcept {
  open_ = false;
  if (PQtransactionStatus(connection_.get()) != PQTRANS_IDLE) {
    const PgResult ignored(
        PQexec(connection_.get(), "ROLLBACK"));  // if it fails, the connection is bad anyway
  }
}

void Transaction::commit() {
  open_ = false;
  connection_.exec("COMMIT");
}

}  // namespace pgstream::writer
