// Binder (private to the sql module): turns libpg_query's raw parse tree of
// one SELECT into a LogicalPlan, resolving names against the live catalog
// and types through the server (SqlCatalog probes). Throws Error{Unsupported}
// with line:column for constructs we cannot maintain, Error{Database} for
// what the server rejects. One Binder compiles one query; not thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pgstream/sql/catalog.hpp"
#include "pgstream/sql/logical_plan.hpp"
#include "pgstream/sql/parse_tree.hpp"

namespace pgstream::sql {

// One name visible in a FROM scope.
struct ScopeColumn {
  std::string name;
  ExprPtr expr;         // a Column, or a merged USING column of a FULL join
  bool hidden = false;  // replaced by a merged USING column for unqualified names and *
};

struct ScopeItem {
  std::string alias;
  std::vector<ScopeColumn> columns;
};

struct Scope {
  std::vector<ScopeItem> items;
  const Scope* parent = nullptr;
};

struct CteScope;

struct CteEntry {
  const PgQuery__CommonTableExpr* cte = nullptr;
  const std::string* text = nullptr;  // the SQL text the CTE's nodes point into
  PlanPtr plan;                       // bound on first reference, then shared
  PlanPtr work_table;                 // set while its recursive term is bound
  bool recursive = false;
  CteScope* owner = nullptr;  // the WITH that defines it (sees earlier siblings)
};

struct CteScope {
  std::map<std::string, CteEntry> ctes;
  CteScope* parent = nullptr;
};

// The parts of one SELECT block the binder works through.
struct Target {
  std::string name;
  ExprPtr expr;
  int location = -1;
};

class Binder {
 public:
  Binder(SqlCatalog& catalog, const std::string& text, Oid target = 0)
      : catalog_(catalog), text_(&text), target_(target) {}

  // Binds the statement (a SelectStmt) of the user's query.
  PlanPtr bind_statement(const PgQuery__Node& statement);
  [[nodiscard]] const std::vector<std::shared_ptr<const SourceRelation>>& sources() const { return sources_; }
  [[nodiscard]] const std::vector<std::string>& views() const { return views_; }
  // `text` (the user's query, or a view's definition) with every view it
  // names replaced by its parenthesized, recursively expanded definition.
  [[nodiscard]] std::string expanded_text(const std::string& text) const;

  // Types `expr` (and everything below it) through the server; checks volatility.
  void type_expr(const ExprPtr& expr);

 private:
  friend struct SelectBlock;
  // queries
  PlanPtr bind_select(const PgQuery__SelectStmt& stmt, const Scope* outer, CteScope* ctes);
  PlanPtr bind_set_operation(const PgQuery__SelectStmt& stmt, const Scope* outer, CteScope* ctes);
  PlanPtr bind_simple_select(const PgQuery__SelectStmt& stmt, const Scope* outer, CteScope* ctes);
  PlanPtr bind_values(const PgQuery__SelectStmt& stmt, const Scope* outer, CteScope* ctes);
  void check_select_clauses(const PgQuery__SelectStmt& stmt);
  void bind_with(const PgQuery__WithClause& with, CteScope& scope);
  PlanPtr bind_recursive_cte(CteEntry& entry, const std::string& name, CteScope* ctes);
  PlanPtr apply_order_limit(const PgQuery__SelectStmt& stmt, PlanPtr plan);
  // FROM
  PlanPtr bind_from_list(const PgQuery__SelectStmt& stmt, Scope& scope, CteScope* ctes);
  PlanPtr bind_from_item(const PgQuery__Node& node, Scope& scope, CteScope* ctes);
  PlanPtr bind_range_var(const PgQuery__RangeVar& range, Scope& scope, CteScope* ctes);
  PlanPtr bind_cte_ref(CteEntry& entry, const std::string& name, const PgQuery__RangeVar& range, Scope& scope,
                       CteScope* ctes);
  PlanPtr bind_view(const RelationRef& ref, const PgQuery__RangeVar& range, Scope& scope);
  PlanPtr bind_subselect(const PgQuery__RangeSubselect& sub, Scope& scope, CteScope* ctes);
  PlanPtr bind_range_function(const PgQuery__RangeFunction& range, Scope& scope, CteScope* ctes);
  PlanPtr bind_join(const PgQuery__JoinExpr& join, Scope& scope, CteScope* ctes);
  PlanPtr join_using(const PgQuery__JoinExpr& join, JoinType type, PlanPtr join_plan, Scope& left,
                     Scope& right, Scope& scope);
  void add_item(Scope& scope, const PlanPtr& plan, const std::string& alias,
                const PgQuery__Alias* user_alias);
  // WHERE with subqueries turned into semi/anti joins
  PlanPtr bind_where(const PgQuery__Node& where, PlanPtr plan, Scope& scope, CteScope* ctes);
  PlanPtr try_semi_join(const PgQuery__SubLink& link, bool negated, const PlanPtr& plan, Scope& scope,
                        CteScope* ctes);
  // expressions
 public:
  ExprPtr bind_expr(const PgQuery__Node& node, const Scope& scope, CteScope* ctes);
  ExprPtr make_operator(const std::string& name, ExprPtr left, ExprPtr right, int location);

 private:
  ExprPtr bind_column_ref(const PgQuery__ColumnRef& ref, const Scope& scope);
  ExprPtr bind_a_expr(const PgQuery__AExpr& expr, const Scope& scope, CteScope* ctes);
  ExprPtr bind_func_call(const PgQuery__FuncCall& call, const Scope& scope, CteScope* ctes);
  ExprPtr bind_sublink(const PgQuery__SubLink& link, const Scope& scope, CteScope* ctes);
  ExprPtr bind_const(const PgQuery__AConst& value);
  ExprPtr bind_type_cast(const PgQuery__TypeCast& cast, const Scope& scope, CteScope* ctes);
  ExprPtr bind_case(const PgQuery__CaseExpr& node, const Scope& scope, CteScope* ctes);
  ExprPtr bind_indirection(const PgQuery__AIndirection& node, const Scope& scope, CteScope* ctes);
  std::vector<ExprPtr> bind_list(PgQuery__Node* const* items, std::size_t count, const Scope& scope,
                                 CteScope* ctes);
  std::vector<SortKey> bind_sort(PgQuery__Node* const* items, std::size_t count, const Scope& scope,
                                 CteScope* ctes);
  std::string type_name_sql(const PgQuery__TypeName& type);
  std::shared_ptr<WindowSpec> bind_window(const PgQuery__WindowDef& def, int location, const Scope& scope,
                                          CteScope* ctes);
  void resolve_routine(Expr& expr, const ProbeResult& probe);
  void check_cast_volatility(Expr& expr);
  void coerce_arguments(Expr& expr, const std::vector<Oid>& declared);
  [[nodiscard]] bool natively_typed(const Expr& expr);
  enum class ProbeShape { Value, NullTest, FromItem, FromItemWithOrdinality };
  std::string probe_sql(const Expr& top, ProbeShape shape = ProbeShape::Value);

 public:
  [[nodiscard]] Error unsupported_at(std::string_view construct, int location, std::string hint = {}) const;
  [[nodiscard]] int next_table_index() { return next_table_++; }
  PlanPtr make_project(PlanPtr input, std::vector<Target> targets);
  PlanPtr coerce_outputs(PlanPtr plan, const std::vector<TypeRef>& types);
  ExprPtr make_subquery_expr(const PgQuery__SubLink& link, PlanPtr subplan, const Scope& scope,
                             CteScope* ctes);
  PlanPtr bind_query_node(const PgQuery__Node& node, const Scope* outer, CteScope* ctes);
  [[nodiscard]] SqlCatalog& catalog() { return catalog_; }
  [[nodiscard]] const std::string& text() const { return *text_; }

 private:
  SqlCatalog& catalog_;
  const std::string* text_;  // the text the nodes being bound point into (user's query or a view)
  Oid target_ = 0;           // the stream table being defined
  int next_table_ = 0;
  bool set_branch_ = false;
  // Binding an ARRAY (subquery): its ORDER BY orders the array, so it is
  // kept as a TopK without a limit (elsewhere a plain ORDER BY is dropped).
  bool keep_order_ = false;
  const PgQuery__SelectStmt* window_block_ =
      nullptr;  // the SELECT whose WINDOW clause names resolve against  // the SELECT being bound is a direct
                // branch of a set operation
  int view_depth_ = 0;
  std::vector<std::unique_ptr<ParseTree>> view_trees_;
  std::vector<std::shared_ptr<const SourceRelation>> sources_;
  std::vector<std::string> views_;
  struct ViewReference {
    bool has_alias = false;
    const std::string* definition = nullptr;  // the view's text (owned by view_trees_)
    std::string name;
  };
  // Per text, the views it references, by the byte location of their names.
  std::map<const std::string*, std::map<int, ViewReference>> view_refs_;
};

// The column name PostgreSQL gives an unnamed target (FigureColname).
[[nodiscard]] std::string figure_column_name(const PgQuery__Node& node);

// Helpers shared by the binder's files.
[[nodiscard]] std::string node_string(const PgQuery__Node* node);
[[nodiscard]] ExprPtr make_column(const OutputColumn& column);
[[nodiscard]] int node_location(const PgQuery__Node& node);

}  // namespace pgstream::sql
