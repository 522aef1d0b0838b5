// compile_query(): the SQL module's front door. Parses a stream table's
// query with PostgreSQL's own grammar (libpg_query), has the server validate
// and describe it (PQprepare + PQdescribePrepared), binds it against the live
// catalog into a LogicalPlan, and applies the logical rewrites (predicate
// pushdown, projection pruning).
//
// Contract:
// - The connection must be idle (Error{Internal} otherwise, the caller's
//   transaction untouched); compile_query opens and rolls back its own
//   transaction, so it changes nothing in the database.
// - Output column names are PostgreSQL's (from the server's description of
//   the query); every output type equals the server's (OID and typmod), or
//   compile_query throws Error{Internal} naming the column.
// - Unsupported constructs throw Error{Unsupported} whose message names the
//   construct and its line:column in `query`, with a hint (often: use
//   refresh_mode: FULL). Syntax errors throw Error{Config}; what the server
//   rejects throws Error{Database} with its SQLSTATE and the line:column.
// - Not thread-safe: one connection, one caller.
#pragma once

#include <optional>
#include <string>

#include "pgstream/common/error.hpp"
#include "pgstream/common/pg.hpp"
#include "pgstream/sql/logical_plan.hpp"

namespace pgstream::sql {

struct CompileOptions {
  std::string catalog_schema = "pgstream";  // where pgs_stream_tables lives (other stream tables)
  bool rewrite = true;                      // apply predicate pushdown and projection pruning
  Oid target = 0;                           // the stream table being (re)defined: reading it is a cycle
};

[[nodiscard]] LogicalPlan compile_query(PgConnection& connection, const std::string& query,
                                        const CompileOptions& options = {});

// The server's description of a query's output: names and types, as
// PQdescribePrepared reports them. Throws Error{Database} (with line:column)
// if the server rejects the query.
struct DescribedColumn {
  std::string name;
  TypeRef type;  // collation is not part of the description (0)
};
[[nodiscard]] std::vector<DescribedColumn> describe_query(PgConnection& connection, const std::string& query);

// The relation a failed compile or describe could not find (SQLSTATE 42P01:
// `relation "<name>" does not exist`, from the binder or from the server),
// as the query wrote it ("name" or "schema.name"); nullopt for any other error.
[[nodiscard]] std::optional<std::string> missing_relation(const Error& error);

}  // namespace pgstream::sql
