// SqlCatalog: what the SQL compiler asks the live database, over a normal
// connection: relations (tables, views, partitioned tables, other stream
// tables) with columns, keys and replica identity; type and collation names;
// and "probes" that let PostgreSQL itself resolve an expression's type,
// collation, function and operator.
//
// Contract: the catalog borrows the connection for its lifetime and keeps one
// transaction open on it (BEGIN at construction, ROLLBACK at destruction), so
// every answer comes from one snapshot and the probe views it creates
// (CREATE TEMP VIEW) vanish: compiling a query changes nothing in the
// database. Every identifier reaches SQL quoted or as a bound parameter.
// Errors: server failures throw Error{Database} with the server's SQLSTATE.
// Not thread-safe (one connection).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgstream/common/pg.hpp"
#include "pgstream/sql/logical_plan.hpp"

namespace pgstream::sql {

// A relation named in FROM, before we decide what to do with it.
struct RelationRef {
  Oid oid = 0;
  std::string schema;
  std::string name;
  char relkind = 'r';      // r table, p partitioned, v view, m matview, f foreign, ...
  char persistence = 'p';  // p permanent, u unlogged, t temporary
  bool is_stream_table = false;
  bool row_security = false;              // ROW LEVEL SECURITY enabled
  bool has_inheritance_children = false;  // a plain table that others INHERIT from
  std::string view_definition;            // views: pg_get_viewdef()
  std::vector<std::string> column_names;  // views: their column names
};

// A function or operator PostgreSQL chose for a probed expression.
struct ResolvedRoutine {
  bool is_operator = false;
  Oid oid = 0;           // pg_proc oid, or pg_operator oid
  Oid function_oid = 0;  // the function (for an operator: oprcode)
  std::string name;
  bool in_pg_catalog = false;
  Volatility volatility = Volatility::Immutable;
  std::vector<Oid> arg_types;  // declared argument types of the function
  bool is_aggregate = false;   // pg_proc.prokind = 'a'
  bool strict = false;         // pg_proc.proisstrict: NULL in, NULL out
};

struct ProbeColumn {
  std::string name;
  TypeRef type;
};

struct ProbeResult {
  std::vector<ProbeColumn> columns;
  std::vector<ResolvedRoutine> routines;  // every function and operator the probe depends on
};

class SqlCatalog {
 public:
  // REQUIRES: `connection` is idle (no transaction open) and outlives this.
  SqlCatalog(PgConnection& connection, std::string catalog_schema);
  SqlCatalog(const SqlCatalog&) = delete;
  SqlCatalog& operator=(const SqlCatalog&) = delete;
  ~SqlCatalog();

  [[nodiscard]] PgConnection& connection() noexcept { return connection_; }

  // Looks a FROM name up with the server's search_path rules; nullopt when
  // no such relation exists.
  [[nodiscard]] std::optional<RelationRef> find_relation(const std::string& schema, const std::string& name);
  // Columns, keys and replica identity of a table or partitioned table.
  [[nodiscard]] std::shared_ptr<const SourceRelation> load_relation(const RelationRef& ref);

  // SQL text naming the type, e.g. "character varying(10)" (format_type).
  [[nodiscard]] const std::string& type_sql(const TypeRef& type);
  // Quoted, schema-qualified collation name.
  [[nodiscard]] const std::string& collation_sql(Oid collation);
  // The type's default collation (0 if not collatable).
  [[nodiscard]] Oid type_collation(Oid type);
  // Element type of an array type (0 if not an array).
  [[nodiscard]] Oid element_type(Oid array_type);
  // True for pseudo-types (any, anyelement, anyarray, record, ...), which
  // stand for "whatever the argument is".
  [[nodiscard]] bool is_pseudo_type(Oid type);

  // Creates a temporary view over `select_sql` (a SELECT statement we built)
  // and reports its columns and the routines it calls. If the server rejects
  // it, throws Error{Database} and leaves the transaction usable.
  [[nodiscard]] ProbeResult probe(const std::string& select_sql);

 private:
  PgResult query(const std::string& sql, const std::vector<std::string>& params);
  [[nodiscard]] bool stream_table_catalog_exists();

  PgConnection& connection_;
  std::string catalog_schema_;
  std::optional<bool> has_stream_catalog_;
  int probe_counter_ = 0;
  std::map<std::pair<Oid, std::int32_t>, std::string> type_sql_;
  std::map<Oid, std::string> collation_sql_;
  std::map<Oid, Oid> type_collation_;
  std::map<Oid, Oid> element_type_;
  std::map<Oid, bool> pseudo_type_;
};

}  // namespace pgstream::sql
