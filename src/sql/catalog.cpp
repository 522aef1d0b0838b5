#include "pgstream/sql/catalog.hpp"

#include <sstream>
#include <utility>

namespace pgstream::sql {

namespace {

constexpr const char* kFindRelation = R"(
SELECT c.oid, n.nspname, c.relname, c.relkind, c.relpersistence,
       CASE WHEN c.relkind = 'v' THEN pg_catalog.pg_get_viewdef(c.oid) END,
       c.relrowsecurity, c.relkind = 'r' AND c.relhassubclass
FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = pg_catalog.to_regclass($1))";

constexpr const char* kColumns = R"(
SELECT a.attname, a.attnum, a.atttypid, a.atttypmod, a.attcollation, a.attnotnull
FROM pg_catalog.pg_attribute a
WHERE a.attrelid = $1::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)";

constexpr const char* kIndexes = R"(
SELECT i.indisprimary, i.indisunique, i.indisreplident, i.indkey::text
FROM pg_catalog.pg_index i
WHERE i.indrelid = $1::oid AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indisvalid
ORDER BY i.indexrelid)";

// The probe view's columns, and every function and operator its stored rule
// calls: read from the rule's node tree (pg_depend omits pinned built-ins).
constexpr const char* kProbe = R"(
WITH probe_view AS (SELECT ('pg_temp.' || $1)::regclass::oid AS oid),
tree AS (SELECT r.ev_action::text AS t FROM pg_catalog.pg_rewrite r WHERE r.ev_class = (SELECT oid FROM probe_view)),
funcs AS (SELECT DISTINCT (pg_catalog.regexp_matches(t, ':(?:funcid|aggfnoid|winfnoid) (\d+)', 'g'))[1]::oid AS oid FROM tree),
opers AS (SELECT DISTINCT (pg_catalog.regexp_matches(t, ':opno (\d+)', 'g'))[1]::oid AS oid FROM tree)
SELECT 'c', a.attnum::int, a.attname::text, a.atttypid, a.atttypmod, a.attcollation::oid, false, ''::text, ''::text,
       ''::text, false
FROM pg_catalog.pg_attribute a WHERE a.attrelid = (SELECT oid FROM probe_view) AND a.attnum > 0
UNION ALL
SELECT 'f', 0, p.proname::text, p.oid, 0, p.oid, p.pronamespace = 'pg_catalog'::regnamespace,
       p.provolatile::text, p.proargtypes::text, p.prokind::text, p.proisstrict
FROM funcs JOIN pg_catalog.pg_proc p ON p.oid = funcs.oid
UNION ALL
SELECT 'o', 0, o.oprname::text, o.oid, 0, o.oprcode::oid, o.oprnamespace = 'pg_catalog'::regnamespace,
       p.provolatile::text, p.proargtypes::text, 'o'::text, p.proisstrict
FROM opers JOIN pg_catalog.pg_operator o ON o.oid = opers.oid JOIN pg_catalog.pg_proc p ON p.oid = o.oprcode
ORDER BY 1, 2)";

std::string value(const PGresult* result, int row, int column) {
  return PQgetisnull(result, row, column) != 0 ? std::string() : std::string(PQgetvalue(result, row, column));
}

Oid oid_value(const PGresult* result, int row, int column) {
  return static_cast<Oid>(std::stoul(value(result, row, column)));
}

std::vector<std::int16_t> parse_int2vector(const std::string& text) {
  std::vector<std::int16_t> out;
  std::istringstream stream(text);
  int attnum = 0;
  while (stream >> attnum) out.push_back(static_cast<std::int16_t>(attnum));
  return out;
}

std::vector<Oid> parse_oidvector(const std::string& text) {
  std::vector<Oid> out;
  std::istringstream stream(text);
  unsigned long oid = 0;
  while (stream >> oid) out.push_back(static_cast<Oid>(oid));
  return out;
}

Volatility volatility_of(const std::string& code) {
  if (code == "i") return Volatility::Immutable;
  if (code == "s") return Volatility::Stable;
  return Volatility::Volatile;
}

}  // namespace

SqlCatalog::SqlCatalog(PgConnection& connection, std::string catalog_schema)
    : connection_(connection), catalog_schema_(std::move(catalog_schema)) {
  if (PQtransactionStatus(connection_.get()) != PQTRANS_IDLE) {
    throw Error(ErrorKind::Internal,
                "the SQL compiler needs an idle connection (no transaction in progress)");
  }
  (void)connection_.exec("BEGIN");
}

SqlCatalog::~SqlCatalog() { PgResult ignored(PQexec(connection_.get(), "ROLLBACK")); }

PgResult SqlCatalog::query(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& param : params) values.push_back(param.c_str());
  PgResult result(PQexecParams(connection_.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
  if (!result_ok(result.get())) throw result_error(connection_.get(), result.get(), "reading the catalog");
  return result;
}

bool SqlCatalog::stream_table_catalog_exists() {
  if (!has_stream_catalog_) {
    const std::string name = connection_.quote_identifier(catalog_schema_) + ".pgs_stream_tables";
    PgResult result = query("SELECT pg_catalog.to_regclass($1) IS NOT NULL", {name});
    has_stream_catalog_ = value(result.get(), 0, 0) == "t";
  }
  return *has_stream_catalog_;
}

std::optional<RelationRef> SqlCatalog::find_relation(const std::string& schema, const std::string& name) {
  std::string qualified = connection_.quote_identifier(name);
  if (!schema.empty()) qualified = connection_.quote_identifier(schema) + "." + qualified;
  PgResult result = query(kFindRelation, {qualified});
  if (PQntuples(result.get()) == 0) return std::nullopt;
  RelationRef ref;
  ref.oid = oid_value(result.get(), 0, 0);
  ref.schema = value(result.get(), 0, 1);
  ref.name = value(result.get(), 0, 2);
  ref.relkind = value(result.get(), 0, 3).at(0);
  ref.persistence = value(result.get(), 0, 4).at(0);
  ref.view_definition = value(result.get(), 0, 5);
  ref.row_security = value(result.get(), 0, 6) == "t";
  ref.has_inheritance_children = value(result.get(), 0, 7) == "t";
  if (stream_table_catalog_exists()) {
    const std::string sql = "SELECT EXISTS (SELECT 1 FROM " + connection_.quote_identifier(catalog_schema_) +
                            ".pgs_stream_tables WHERE pgs_relid = $1::oid)";
    PgResult st = query(sql, {std::to_string(ref.oid)});
    ref.is_stream_table = value(st.get(), 0, 0) == "t";
  }
  PgResult columns = query(kColumns, {std::to_string(ref.oid)});
  for (int row = 0; row < PQntuples(columns.get()); ++row)
    ref.column_names.push_back(value(columns.get(), row, 0));
  return ref;
}

std::shared_ptr<const SourceRelation> SqlCatalog::load_relation(const RelationRef& ref) {
  auto relation = std::make_shared<SourceRelation>();
  relation->oid = ref.oid;
  relation->schema = ref.schema;
  relation->name = ref.name;
  relation->relkind = ref.relkind;
  relation->is_stream_table = ref.is_stream_table;
  const std::string oid = std::to_string(ref.oid);
  PgResult columns = query(kColumns, {oid});
  for (int row = 0; row < PQntuples(columns.get()); ++row) {
    RelationColumn column;
    column.name = value(columns.get(), row, 0);
    column.attnum = static_cast<std::int16_t>(std::stoi(value(columns.get(), row, 1)));
    column.type = {.oid = oid_value(columns.get(), row, 2),
                   .typmod = std::stoi(value(columns.get(), row, 3)),
                   .collation = oid_value(columns.get(), row, 4)};
    column.not_null = value(columns.get(), row, 5) == "t";
    relation->columns.push_back(std::move(column));
  }
  PgResult replident = query("SELECT relreplident FROM pg_catalog.pg_class WHERE oid = $1::oid", {oid});
  relation->replica_identity = value(replident.get(), 0, 0).at(0);
  PgResult indexes = query(kIndexes, {oid});
  for (int row = 0; row < PQntuples(indexes.get()); ++row) {
    std::vector<std::int16_t> key = parse_int2vector(value(indexes.get(), row, 3));
    if (value(indexes.get(), row, 0) == "t") relation->primary_key = key;
    if (value(indexes.get(), row, 2) == "t") relation->replica_identity_key = key;
    if (value(indexes.get(), row, 1) == "t") relation->unique_keys.push_back(std::move(key));
  }
  if (relation->replica_identity == 'd') relation->replica_identity_key = relation->primary_key;
  return relation;
}

const std::string& SqlCatalog::type_sql(const TypeRef& type) {
  const auto key = std::make_pair(type.oid, type.typmod);
  auto found = type_sql_.find(key);
  if (found != type_sql_.end()) return found->second;
  PgResult result = query("SELECT pg_catalog.format_type($1::oid, $2::int)",
                          {std::to_string(type.oid), std::to_string(type.typmod)});
  return type_sql_.emplace(key, value(result.get(), 0, 0)).first->second;
}

const std::string& SqlCatalog::collation_sql(Oid collation) {
  auto found = collation_sql_.find(collation);
  if (found != collation_sql_.end()) return found->second;
  PgResult result = query(
      "SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.collname) "
      "FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace "
      "WHERE c.oid = $1::oid",
      {std::to_string(collation)});
  if (PQntuples(result.get()) != 1)
    throw Error(ErrorKind::Internal, "unknown collation " + std::to_string(collation));
  return collation_sql_.emplace(collation, value(result.get(), 0, 0)).first->second;
}

Oid SqlCatalog::type_collation(Oid type) {
  if (auto found = type_collation_.find(type); found != type_collation_.end()) return found->second;
  PgResult result = query(
      "SELECT typcollation, CASE WHEN typcategory = 'A' THEN typelem ELSE 0 END "
      "FROM pg_catalog.pg_type WHERE oid = $1::oid",
      {std::to_string(type)});
  const Oid collation = PQntuples(result.get()) == 1 ? oid_value(result.get(), 0, 0) : 0;
  element_type_[type] = PQntuples(result.get()) == 1 ? oid_value(result.get(), 0, 1) : 0;
  return type_collation_.emplace(type, collation).first->second;
}

bool SqlCatalog::is_pseudo_type(Oid type) {
  if (auto found = pseudo_type_.find(type); found != pseudo_type_.end()) return found->second;
  PgResult result =
      query("SELECT typtype = 'p' FROM pg_catalog.pg_type WHERE oid = $1::oid", {std::to_string(type)});
  const bool pseudo = PQntuples(result.get()) == 1 && value(result.get(), 0, 0) == "t";
  return pseudo_type_.emplace(type, pseudo).first->second;
}

Oid SqlCatalog::element_type(Oid array_type) {
  (void)type_collation(array_type);
  return element_type_[array_type];
}

ProbeResult SqlCatalog::probe(const std::string& select_sql) {
  const std::string view = "pgs_probe_" + std::to_string(++probe_counter_);
  const std::string sql = "SAVEPOINT pgs_probe; CREATE TEMPORARY VIEW " + view + " AS " + select_sql +
                          "; RELEASE SAVEPOINT pgs_probe";
  PgResult created(PQexec(connection_.get(), sql.c_str()));
  if (!result_ok(created.get())) {
    Error error =
        result_error(connection_.get(), created.get(), "probing the type of an expression: " + select_sql);
    PgResult ignored(PQexec(connection_.get(), "ROLLBACK TO SAVEPOINT pgs_probe"));
    throw error;
  }
  PgResult result = query(kProbe, {view});
  ProbeResult probe;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    const std::string kind = value(result.get(), row, 0);
    if (kind == "c") {
      probe.columns.push_back({.name = value(result.get(), row, 2),
                               .type = {.oid = oid_value(result.get(), row, 3),
                                        .typmod = std::stoi(value(result.get(), row, 4)),
                                        .collation = oid_value(result.get(), row, 5)}});
      continue;
    }
    ResolvedRoutine routine;
    routine.is_operator = kind == "o";
    routine.name = value(result.get(), row, 2);
    routine.oid = oid_value(result.get(), row, 3);
    routine.function_oid = oid_value(result.get(), row, 5);
    routine.in_pg_catalog = value(result.get(), row, 6) == "t";
    routine.volatility = volatility_of(value(result.get(), row, 7));
    routine.arg_types = parse_oidvector(value(result.get(), row, 8));
    routine.is_aggregate = value(result.get(), row, 9) == "a";
    routine.strict = value(result.get(), row, 10) == "t";
    probe.routines.push_back(std::move(routine));
  }
  return probe;
}

}  // namespace pgstream::sql
