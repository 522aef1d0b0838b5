#include "pgstream/sql/compiler.hpp"

#include "binder.hpp"
#include "pgstream/sql/catalog.hpp"
#include "pgstream/sql/parse_tree.hpp"
#include "pgstream/sql/rewrite.hpp"

namespace pgstream::sql {

namespace {

// The byte offset of the 1-based character position PostgreSQL reports.
int byte_offset_of_character(const std::string& text, int character) {
  int seen = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0U) != 0x80U) {
      if (++seen == character) return static_cast<int>(i);
    }
  }
  return static_cast<int>(text.size());
}

Error server_rejected(const PGconn* conn, const PGresult* result, const std::string& query) {
  Error error = result_error(conn, result, "preparing the stream table's query");
  const char* position = PQresultErrorField(result, PG_DIAG_STATEMENT_POSITION);
  if (position == nullptr) return error;
  const SourcePosition at = position_of(query, byte_offset_of_character(query, std::stoi(position)));
  return Error(error.kind(), error.message() + " (" + describe_position(at) + ")",
               {.sqlstate = error.sqlstate(), .detail = error.detail(), .hint = error.hint()});
}

void check_output_types(const LogicalPlan& plan, const std::vector<DescribedColumn>& described) {
  if (plan.root->output.size() != described.size()) {
    throw Error(ErrorKind::Internal, "the compiled plan has " + std::to_string(plan.root->output.size()) +
                                         " columns, the server describes " +
                                         std::to_string(described.size()));
  }
  for (std::size_t i = 0; i < described.size(); ++i) {
    const TypeRef& ours = plan.root->output[i].type;
    if (ours.oid != described[i].type.oid || ours.typmod != described[i].type.typmod) {
      throw Error(ErrorKind::Internal,
                  "column \"" + described[i].name + "\": the compiled plan's type (" +
                      std::to_string(ours.oid) + ", " + std::to_string(ours.typmod) +
                      ") differs from the server's (" + std::to_string(described[i].type.oid) + ", " +
                      std::to_string(described[i].type.typmod) + ")",
                  {.sqlstate = "",
                   .detail = "",
                   .hint = "Please report this query; use refresh_mode: FULL meanwhile."});
    }
  }
}

}  // namespace

std::vector<DescribedColumn> describe_query(PgConnection& connection, const std::string& query) {
  PgResult prepared(PQprepare(connection.get(), "", query.c_str(), 0, nullptr));
  if (!result_ok(prepared.get())) throw server_rejected(connection.get(), prepared.get(), query);
  PgResult described(PQdescribePrepared(connection.get(), ""));
  if (!result_ok(described.get()))
    throw result_error(connection.get(), described.get(), "describing the query");
  std::vector<DescribedColumn> columns;
  columns.reserve(static_cast<std::size_t>(PQnfields(described.get())));
  for (int i = 0; i < PQnfields(described.get()); ++i) {
    columns.push_back(
        {.name = PQfname(described.get(), i),
         .type = {.oid = PQftype(described.get(), i), .typmod = PQfmod(described.get(), i), .collation = 0}});
  }
  return columns;
}

LogicalPlan compile_query(PgConnection& connection, const std::string& query, const CompileOptions& options) {
  const ParseTree tree = ParseTree::parse(query);
  const PgQuery__Node& statement = tree.single_statement();
  LogicalPlan plan;
  plan.original_query = query;
  {
    SqlCatalog catalog(connection, options.catalog_schema);
    Binder binder(catalog, tree.text(), options.target);
    if (statement.node_case != PG_QUERY__NODE__NODE_SELECT_STMT) (void)binder.bind_statement(statement);
    const std::vector<DescribedColumn> described = describe_query(connection, query);
    plan.root = binder.bind_statement(statement);
    plan.sources = binder.sources();
    plan.views = binder.views();
    plan.defining_query = binder.expanded_text(tree.text());
    check_output_types(plan, described);
    for (std::size_t i = 0; i < described.size(); ++i) {
      plan.column_names.push_back(described[i].name);
      TypeRef type = described[i].type;
      type.collation = plan.root->output[i].type.collation;
      plan.column_types.push_back(type);
    }
  }
  if (options.rewrite) {
    push_down_predicates(plan);
    prune_columns(plan);
    collect_columns_used(plan);
  }
  return plan;
}

}  // namespace pgstream::sql
