// SELECT blocks: targets, GROUP BY / grouping sets / aggregates, HAVING,
// window functions, DISTINCT [ON], ORDER BY ... LIMIT; set operations,
// VALUES and WITH [RECURSIVE].
#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <set>

#include "binder.hpp"
#include "pgstream/engine/datum.hpp"

namespace pgstream::sql {

namespace {

using Replacer = std::function<ExprPtr(const ExprPtr&)>;

// Rebuilds `expr` bottom-up, letting `replace` substitute whole subtrees
// (it returns null to descend instead). Subplans are left alone.
ExprPtr rewrite(const ExprPtr& expr, const Replacer& replace) {
  if (!expr) return expr;
  if (ExprPtr replaced = replace(expr)) return replaced;
  auto copy = std::make_shared<Expr>(*expr);
  for (ExprPtr& arg : copy->args) arg = rewrite(arg, replace);
  copy->filter = rewrite(copy->filter, replace);
  for (SortKey& key : copy->order_by) key.expr = rewrite(key.expr, replace);
  if (copy->window) {
    auto spec = std::make_shared<WindowSpec>(*copy->window);
    for (ExprPtr& part : spec->partition_by) part = rewrite(part, replace);
    for (SortKey& key : spec->order_by) key.expr = rewrite(key.expr, replace);
    copy->window = spec;
  }
  return copy;
}

bool contains_kind(const ExprPtr& expr, ExprKind kind) {
  bool found = false;
  walk_expr(expr, [&](const ExprPtr& e) { found = found || e->kind == kind; });
  return found;
}

int find_same(const std::vector<ExprPtr>& list, const Expr& expr) {
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (same_expr(*list[i], expr)) return static_cast<int>(i);
  }
  return -1;
}

std::string expr_column_name(const Expr& expr) {
  if (expr.kind == ExprKind::Column || expr.kind == ExprKind::Function || expr.kind == ExprKind::Aggregate ||
      expr.kind == ExprKind::Window) {
    return expr.name;
  }
  return "?column?";
}

std::optional<std::int64_t> constant_count(const PgQuery__Node* node, const Binder& binder,
                                           const char* what) {
  if (node == nullptr) return std::nullopt;
  if (node->node_case == PG_QUERY__NODE__NODE_A_CONST) {
    const PgQuery__AConst& value = *node->a_const;
    if (value.isnull) return std::nullopt;
    if (value.val_case == PG_QUERY__A__CONST__VAL_IVAL) return value.ival->ival;
    if (value.val_case == PG_QUERY__A__CONST__VAL_FVAL) return std::stoll(value.fval->fval);
  }
  throw binder.unsupported_at(std::string("a non-constant ") + what, node_location(*node),
                              "Write the count as a number.");
}

// GROUP BY items expanded into grouping sets over `keys` (indexes).
using GroupingSets = std::vector<std::vector<int>>;

GroupingSets cross(const GroupingSets& a, const GroupingSets& b) {
  GroupingSets out;
  for (const auto& x : a) {
    for (const auto& y : b) {
      std::vector<int> set = x;
      set.insert(set.end(), y.begin(), y.end());
      out.push_back(std::move(set));
    }
  }
  return out;
}

}  // namespace

std::string figure_column_name(const PgQuery__Node& node) {
  switch (node.node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF: {
      const PgQuery__ColumnRef& ref = *node.column_ref;
      return node_string(ref.fields[ref.n_fields - 1]);
    }
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
      const PgQuery__FuncCall& call = *node.func_call;
      return node_string(call.funcname[call.n_funcname - 1]);
    }
    case PG_QUERY__NODE__NODE_TYPE_CAST: {
      std::string inner = figure_column_name(*node.type_cast->arg);
      if (inner != "?column?") return inner;
      const PgQuery__TypeName& type = *node.type_cast->type_name;
      return node_string(type.names[type.n_names - 1]);
    }
    case PG_QUERY__NODE__NODE_A_INDIRECTION: {
      const PgQuery__AIndirection& ind = *node.a_indirection;
      for (std::size_t i = ind.n_indirection; i > 0; --i) {
        if (ind.indirection[i - 1]->node_case == PG_QUERY__NODE__NODE_STRING)
          return node_string(ind.indirection[i - 1]);
      }
      return figure_column_name(*ind.arg);
    }
    case PG_QUERY__NODE__NODE_CASE_EXPR: return "case";
    case PG_QUERY__NODE__NODE_A_ARRAY_EXPR: return "array";
    case PG_QUERY__NODE__NODE_ROW_EXPR: return "row";
    case PG_QUERY__NODE__NODE_COALESCE_EXPR: return "coalesce";
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR:
      return node.min_max_expr->op == PG_QUERY__MIN_MAX_OP__IS_GREATEST ? "greatest" : "least";
    case PG_QUERY__NODE__NODE_GROUPING_FUNC: return "grouping";
    case PG_QUERY__NODE__NODE_COLLATE_CLAUSE: return figure_column_name(*node.collate_clause->arg);
    case PG_QUERY__NODE__NODE_A_EXPR:
      if (node.a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF) return "nullif";
      return "?column?";
    case PG_QUERY__NODE__NODE_SUB_LINK: {
      const PgQuery__SubLink& link = *node.sub_link;
      if (link.sub_link_type == PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK) return "exists";
      if (link.sub_link_type == PG_QUERY__SUB_LINK_TYPE__ARRAY_SUBLINK) return "array";
      if (link.sub_link_type == PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK) {
        const PgQuery__SelectStmt& sub = *link.subselect->select_stmt;
        if (sub.n_target_list > 0) {
          const PgQuery__ResTarget& target = *sub.target_list[0]->res_target;
          if (target.name != nullptr && target.name[0] != '\0') return target.name;
          return figure_column_name(*target.val);
        }
      }
      return "?column?";
    }
    default: return "?column?";
  }
}

PlanPtr Binder::make_project(PlanPtr input, std::vector<Target> targets) {
  auto project = std::make_shared<PlanNode>();
  project->kind = PlanKind::Project;
  project->table_index = next_table_index();
  for (std::size_t i = 0; i < targets.size(); ++i) {
    Target& target = targets[i];
    if (!set_branch_ && target.expr->type.oid == engine::type_oid::kUnknown) {
      auto resolved = std::make_shared<Expr>(*target.expr);
      resolved->type = {.oid = engine::type_oid::kText,
                        .typmod = -1,
                        .collation = catalog_.type_collation(engine::type_oid::kText)};
      target.expr = resolved;
    }
    project->output.push_back({.binding = {project->table_index, static_cast<int>(i)},
                               .name = target.name,
                               .type = target.expr->type});
    project->exprs.push_back(target.expr);
  }
  project->inputs.push_back(std::move(input));
  return project;
}

PlanPtr Binder::coerce_outputs(PlanPtr plan, const std::vector<TypeRef>& types) {
  bool differs = false;
  for (std::size_t i = 0; i < types.size(); ++i) differs = differs || plan->output[i].type != types[i];
  if (!differs) return plan;
  std::vector<Target> targets;
  for (std::size_t i = 0; i < types.size(); ++i) {
    ExprPtr value = make_column(plan->output[i]);
    if (plan->output[i].type.oid != types[i].oid || plan->output[i].type.typmod != types[i].typmod) {
      if (plan->kind == PlanKind::Project && plan->exprs[i]->kind == ExprKind::Const) value = plan->exprs[i];
      auto cast = std::make_shared<Expr>();
      cast->kind = ExprKind::Cast;
      cast->name = catalog_.type_sql(types[i]);
      cast->args.push_back(value);
      type_expr(cast);
      value = cast;
    }
    targets.push_back({.name = plan->output[i].name, .expr = value, .location = -1});
  }
  const bool saved = set_branch_;
  set_branch_ = true;
  PlanPtr project = make_project(plan, std::move(targets));
  set_branch_ = saved;
  return project;
}

PlanPtr Binder::bind_statement(const PgQuery__Node& statement) {
  if (statement.node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
    int location = 0;
    std::string what = "a statement other than SELECT";
    if (statement.node_case == PG_QUERY__NODE__NODE_INSERT_STMT) what = "INSERT";
    if (statement.node_case == PG_QUERY__NODE__NODE_UPDATE_STMT) what = "UPDATE";
    if (statement.node_case == PG_QUERY__NODE__NODE_DELETE_STMT) what = "DELETE";
    if (statement.node_case == PG_QUERY__NODE__NODE_MERGE_STMT) what = "MERGE";
    throw unsupported_at(what, location, "A stream table is defined by one SELECT query.");
  }
  return bind_query_node(statement, nullptr, nullptr);
}

PlanPtr Binder::bind_query_node(const PgQuery__Node& node, const Scope* outer, CteScope* ctes) {
  if (node.node_case != PG_QUERY__NODE__NODE_SELECT_STMT) throw unsupported_at("this subquery form", -1);
  return bind_select(*node.select_stmt, outer, ctes);
}

void Binder::check_select_clauses(const PgQuery__SelectStmt& stmt) {
  if (stmt.n_locking_clause > 0) {
    // The locking clause carries no location: find its last occurrence in the text.
    std::string lowered = *text_;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::size_t at = std::string::npos;
    for (const char* words : {"for update", "for no key update", "for share", "for key share"}) {
      const std::size_t found = lowered.rfind(words);
      if (found != std::string::npos && (at == std::string::npos || found > at)) at = found;
    }
    throw unsupported_at("FOR UPDATE/SHARE (row locking)",
                         at == std::string::npos ? -1 : static_cast<int>(at),
                         "Stream tables read changes, not locked rows: remove the locking clause.");
  }
  if (stmt.into_clause != nullptr) {
    throw unsupported_at("SELECT INTO", -1, "Declare the target as the stream table's name instead.");
  }
}

void Binder::bind_with(const PgQuery__WithClause& with, CteScope& scope) {
  for (std::size_t i = 0; i < with.n_ctes; ++i) {
    const PgQuery__CommonTableExpr& cte = *with.ctes[i]->common_table_expr;
    if (cte.ctequery->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
      throw unsupported_at("a data-modifying statement in WITH (" + std::string(cte.ctename) + ")",
                           cte.location,
                           "Stream tables only read: move the INSERT/UPDATE/DELETE out of the query.");
    }
    if (cte.search_clause != nullptr || cte.cycle_clause != nullptr) {
      throw unsupported_at("SEARCH/CYCLE clauses of WITH RECURSIVE", cte.location,
                           "Track depth or visited nodes with explicit columns.");
    }
    CteEntry entry;
    entry.cte = &cte;
    entry.text = text_;
    entry.recursive = with.recursive;
    entry.owner = &scope;
    scope.ctes[cte.ctename] = entry;
  }
}

PlanPtr Binder::bind_recursive_cte(CteEntry& entry, const std::string& name, CteScope* ctes) {
  const PgQuery__SelectStmt& stmt = *entry.cte->ctequery->select_stmt;
  if (stmt.op != PG_QUERY__SET_OPERATION__SETOP_UNION)
    return bind_query_node(*entry.cte->ctequery, nullptr, ctes);
  set_branch_ = false;
  PlanPtr base = bind_select(*stmt.larg, nullptr, ctes);
  auto node = std::make_shared<PlanNode>();
  node->kind = PlanKind::RecursiveUnion;
  node->table_index = next_table_index();
  node->all = stmt.all;
  node->alias = name;
  for (std::size_t i = 0; i < base->output.size(); ++i) {
    OutputColumn column = base->output[i];
    if (i < entry.cte->n_aliascolnames) column.name = node_string(entry.cte->aliascolnames[i]);
    column.binding = {node->table_index, static_cast<int>(i)};
    node->output.push_back(column);
  }
  entry.work_table = node;
  PlanPtr step = bind_select(*stmt.rarg, nullptr, ctes);
  entry.work_table = nullptr;
  std::vector<TypeRef> types;
  for (const OutputColumn& column : node->output) types.push_back(column.type);
  node->inputs = {base, coerce_outputs(step, types)};
  return node;
}

PlanPtr Binder::bind_select(const PgQuery__SelectStmt& stmt, const Scope* outer, CteScope* ctes) {
  check_select_clauses(stmt);
  CteScope local{.ctes = {}, .parent = ctes};
  if (stmt.with_clause != nullptr) {
    bind_with(*stmt.with_clause, local);
    ctes = &local;
  }
  if (stmt.n_values_lists > 0) return apply_order_limit(stmt, bind_values(stmt, outer, ctes));
  if (stmt.op != PG_QUERY__SET_OPERATION__SETOP_NONE)
    return apply_order_limit(stmt, bind_set_operation(stmt, outer, ctes));
  return bind_simple_select(stmt, outer, ctes);
}

PlanPtr Binder::bind_values(const PgQuery__SelectStmt& stmt, const Scope* outer, CteScope* ctes) {
  Scope scope{.items = {}, .parent = outer};
  auto node = std::make_shared<PlanNode>();
  node->kind = PlanKind::Values;
  node->table_index = next_table_index();
  for (std::size_t r = 0; r < stmt.n_values_lists; ++r) {
    const PgQuery__List& row = *stmt.values_lists[r]->list;
    node->rows.push_back(bind_list(row.items, row.n_items, scope, ctes));
  }
  // Column types as the server resolves them across rows.
  std::string sql = "VALUES ";
  for (std::size_t r = 0; r < node->rows.size(); ++r) {
    sql += r > 0 ? ", (" : "(";
    for (std::size_t c = 0; c < node->rows[r].size(); ++c) {
      const ExprPtr& cell = node->rows[r][c];
      sql += c > 0 ? ", " : "";
      sql += cell->kind == ExprKind::Const ? cell->literal : "NULL::" + catalog_.type_sql(cell->type);
    }
    sql += ")";
  }
  const ProbeResult probe = catalog_.probe(sql);
  for (std::size_t c = 0; c < probe.columns.size(); ++c) {
    const TypeRef type = probe.columns[c].type;
    node->output.push_back({.binding = {node->table_index, static_cast<int>(c)},
                            .name = "column" + std::to_string(c + 1),
                            .type = type});
    for (auto& row : node->rows) {
      if (row[c]->type == type) continue;
      auto cast = std::make_shared<Expr>();
      cast->kind = ExprKind::Cast;
      cast->name = catalog_.type_sql(type);
      cast->args.push_back(row[c]);
      type_expr(cast);
      row[c] = cast;
    }
  }
  return node;
}

PlanPtr Binder::bind_set_operation(const PgQuery__SelectStmt& stmt, const Scope* outer, CteScope* ctes) {
  const bool saved = set_branch_;
  set_branch_ = true;
  PlanPtr left = bind_select(*stmt.larg, outer, ctes);
  set_branch_ = true;
  PlanPtr right = bind_select(*stmt.rarg, outer, ctes);
  set_branch_ = saved;
  if (left->output.size() != right->output.size())
    throw unsupported_at("set operation branches of different widths", -1);
  auto branch_sql = [&](const PlanPtr& branch) {
    std::string sql = "SELECT ";
    for (std::size_t i = 0; i < branch->output.size(); ++i) {
      sql += i > 0 ? ", " : "";
      const bool literal = branch->kind == PlanKind::Project && branch->exprs[i]->kind == ExprKind::Const;
      const TypeRef& type = branch->output[i].type;
      if (literal)
        sql += branch->exprs[i]->literal;
      else if (type.oid == engine::type_oid::kUnknown)
        sql += "NULL";
      else
        sql += "NULL::" + catalog_.type_sql(type);
    }
    return sql;
  };
  const ProbeResult probe = catalog_.probe(branch_sql(left) + " UNION ALL " + branch_sql(right));
  std::vector<TypeRef> types;
  for (const ProbeColumn& column : probe.columns) types.push_back(column.type);
  auto node = std::make_shared<PlanNode>();
  node->kind = PlanKind::SetOp;
  node->table_index = next_table_index();
  node->all = stmt.all;
  node->set_op = stmt.op == PG_QUERY__SET_OPERATION__SETOP_UNION       ? SetOpKind::Union
                 : stmt.op == PG_QUERY__SET_OPERATION__SETOP_INTERSECT ? SetOpKind::Intersect
                                                                       : SetOpKind::Except;
  for (std::size_t i = 0; i < types.size(); ++i) {
    node->output.push_back({.binding = {node->table_index, static_cast<int>(i)},
                            .name = left->output[i].name,
                            .type = types[i]});
  }
  node->inputs = {coerce_outputs(left, types), coerce_outputs(right, types)};
  return node;
}

PlanPtr Binder::apply_order_limit(const PgQuery__SelectStmt& stmt, PlanPtr plan) {
  if (stmt.limit_count == nullptr && stmt.limit_offset == nullptr) return plan;
  auto top = std::make_shared<PlanNode>();
  top->kind = PlanKind::TopK;
  top->output = plan->output;
  top->limit = constant_count(stmt.limit_count, *this, "LIMIT");
  top->offset = constant_count(stmt.limit_offset, *this, "OFFSET").value_or(0);
  top->with_ties = stmt.limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES;
  for (std::size_t i = 0; i < stmt.n_sort_clause; ++i) {
    const PgQuery__SortBy& sort = *stmt.sort_clause[i]->sort_by;
    int index = -1;
    if (sort.node->node_case == PG_QUERY__NODE__NODE_A_CONST &&
        sort.node->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
      index = sort.node->a_const->ival->ival - 1;
    } else if (sort.node->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
               sort.node->column_ref->n_fields == 1) {
      const std::string name = node_string(sort.node->column_ref->fields[0]);
      for (std::size_t c = 0; c < plan->output.size() && index < 0; ++c) {
        if (plan->output[c].name == name) index = static_cast<int>(c);
      }
    }
    if (index < 0 || index >= static_cast<int>(plan->output.size())) {
      throw unsupported_at("ORDER BY an expression over a set operation or VALUES", sort.location,
                           "Order by an output column's name or position.");
    }
    SortKey key;
    key.expr = make_column(plan->output[static_cast<std::size_t>(index)]);
    key.descending = sort.sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
    key.nulls_first = sort.sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST ||
                      (key.descending && sort.sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST);
    top->sort_keys.push_back(key);
  }
  top->inputs.push_back(std::move(plan));
  return top;
}

}  // namespace pgstream::sql

namespace pgstream::sql {

namespace {

// What one SELECT block accumulates between its clauses.
struct Block {
  std::vector<Target> targets;
  std::vector<SortKey> order;
  std::vector<ExprPtr> distinct_on;
  ExprPtr having;

  void rewrite_all(const Replacer& replace) {
    for (Target& target : targets) target.expr = rewrite(target.expr, replace);
    for (SortKey& key : order) key.expr = rewrite(key.expr, replace);
    for (ExprPtr& expr : distinct_on) expr = rewrite(expr, replace);
    having = rewrite(having, replace);
  }
  [[nodiscard]] bool has_aggregate() const {
    bool found = contains_kind(having, ExprKind::Aggregate) || having != nullptr;
    for (const Target& target : targets) found = found || contains_kind(target.expr, ExprKind::Aggregate);
    for (const SortKey& key : order) found = found || contains_kind(key.expr, ExprKind::Aggregate);
    return found;
  }
};

PlanPtr make_filter(PlanPtr input, ExprPtr predicate) {
  auto filter = std::make_shared<PlanNode>();
  filter->kind = PlanKind::Filter;
  filter->output = input->output;
  filter->inputs.push_back(std::move(input));
  filter->predicate = std::move(predicate);
  return filter;
}

}  // namespace

class SelectBinder {
 public:
  SelectBinder(Binder& binder, const PgQuery__SelectStmt& stmt, Scope& scope, CteScope* ctes)
      : binder_(binder), stmt_(stmt), scope_(scope), ctes_(ctes) {}

  void bind_targets(Block& block) {
    for (std::size_t i = 0; i < stmt_.n_target_list; ++i) {
      const PgQuery__ResTarget& target = *stmt_.target_list[i]->res_target;
      if (target.val->node_case == PG_QUERY__NODE__NODE_COLUMN_REF && is_star(*target.val->column_ref)) {
        expand_star(*target.val->column_ref, block);
        continue;
      }
      std::string name =
          target.name != nullptr && target.name[0] != '\0' ? target.name : figure_column_name(*target.val);
      block.targets.push_back({.name = std::move(name),
                               .expr = binder_.bind_expr(*target.val, scope_, ctes_),
                               .location = target.location});
    }
  }

  ExprPtr bind_output_ref(const PgQuery__Node& node, const Block& block, bool outputs_first) {
    if (node.node_case == PG_QUERY__NODE__NODE_A_CONST &&
        node.a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
      const int position = node.a_const->ival->ival;
      if (position < 1 || position > static_cast<int>(block.targets.size())) {
        throw binder_.unsupported_at("this position in ORDER BY / GROUP BY", node.a_const->location);
      }
      return block.targets[static_cast<std::size_t>(position - 1)].expr;
    }
    if (node.node_case == PG_QUERY__NODE__NODE_COLUMN_REF && node.column_ref->n_fields == 1 &&
        node.column_ref->fields[0]->node_case == PG_QUERY__NODE__NODE_STRING) {
      const std::string name = node_string(node.column_ref->fields[0]);
      const Target* match = nullptr;
      for (const Target& target : block.targets) {
        if (target.name == name) match = match == nullptr ? &target : match;
      }
      if (match != nullptr && outputs_first) return match->expr;
      if (match != nullptr) {
        try {
          return binder_.bind_expr(node, scope_, ctes_);
        } catch (const Error&) {
          return match->expr;
        }
      }
    }
    return binder_.bind_expr(node, scope_, ctes_);
  }

  void bind_order(Block& block) {
    for (std::size_t i = 0; i < stmt_.n_sort_clause; ++i) {
      const PgQuery__SortBy& sort = *stmt_.sort_clause[i]->sort_by;
      if (sort.sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING) {
        throw binder_.unsupported_at("ORDER BY ... USING", sort.location, "Use ASC or DESC.");
      }
      SortKey key;
      key.expr = bind_output_ref(*sort.node, block, true);
      key.descending = sort.sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
      key.nulls_first = sort.sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST ||
                        (key.descending && sort.sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST);
      block.order.push_back(key);
    }
    for (std::size_t i = 0; i < stmt_.n_distinct_clause; ++i) {
      const PgQuery__Node* node = stmt_.distinct_clause[i];
      if (node != nullptr && node->node_case != PG_QUERY__NODE__NODE__NOT_SET) {
        block.distinct_on.push_back(bind_output_ref(*node, block, true));
      }
    }
  }

  // A correlated scalar subquery of the form (SELECT f(aggregates) FROM base
  // WHERE inner = outer AND ...) becomes a LEFT JOIN of the FROM clause to
  // (SELECT inner, aggregates FROM base WHERE ... GROUP BY inner); count()s
  // become COALESCE(count, 0), their value over no rows.
  // The same for scalar subqueries in WHERE: the join goes below the filter.
  PlanPtr decorrelate_where(const PlanPtr& plan) {
    if (plan->kind != PlanKind::Filter) return plan;
    PlanPtr base = plan->inputs[0];
    std::set<ColumnBinding> outer;
    for (const OutputColumn& column : base->output) outer.insert(column.binding);
    bool changed = false;
    ExprPtr predicate = rewrite(plan->predicate, [&](const ExprPtr& e) -> ExprPtr {
      if (e->kind != ExprKind::Subquery) return nullptr;
      if (e->subquery_kind != SubqueryKind::Scalar || !e->correlated) return e;
      ExprPtr value = decorrelate_one(*e, base, outer);
      changed = changed || value != nullptr;
      return value ? value : e;
    });
    if (!changed) return plan;
    auto filter = make_filter(base, predicate);
    filter->output = plan->output;  // the joined columns stay internal
    return filter;
  }

  PlanPtr decorrelate_scalar_subqueries(PlanPtr plan, Block& block) {
    std::set<ColumnBinding> outer;
    for (const OutputColumn& column : plan->output) outer.insert(column.binding);
    const Replacer replace = [&](const ExprPtr& e) -> ExprPtr {
      if (e->kind != ExprKind::Subquery) return nullptr;
      if (e->subquery_kind != SubqueryKind::Scalar || !e->correlated) return e;
      ExprPtr value = decorrelate_one(*e, plan, outer);
      return value ? value : e;
    };
    block.rewrite_all(replace);
    return plan;
  }

  // GROUP BY and the aggregates above it.
  PlanPtr aggregate(PlanPtr input, Block& block) {
    auto node = std::make_shared<PlanNode>();
    node->kind = PlanKind::Aggregate;
    node->table_index = binder_.next_table_index();
    const int agg_table = binder_.next_table_index();
    bool has_sets = false;
    GroupingSets sets = {{}};
    for (std::size_t i = 0; i < stmt_.n_group_clause; ++i) {
      has_sets = has_sets || stmt_.group_clause[i]->node_case == PG_QUERY__NODE__NODE_GROUPING_SET;
      sets = cross(sets, expand(*stmt_.group_clause[i], block, node->group_keys));
    }
    if (stmt_.group_distinct) {
      for (auto& set : sets) {  // a grouping set is a set: (a, a) is (a)
        std::sort(set.begin(), set.end());
        set.erase(std::unique(set.begin(), set.end()), set.end());
      }
      std::sort(sets.begin(), sets.end());
      sets.erase(std::unique(sets.begin(), sets.end()), sets.end());
    }
    if (has_sets) node->grouping_sets = sets;
    std::set<ColumnBinding> from;
    for (const OutputColumn& column : input->output) from.insert(column.binding);
    auto key_column = [&](std::size_t i) {
      return make_column({.binding = {node->table_index, static_cast<int>(i)},
                          .name = expr_column_name(*node->group_keys[i]),
                          .type = node->group_keys[i]->type});
    };
    const Replacer replace = [&](const ExprPtr& e) -> ExprPtr {
      if (int k = find_same(node->group_keys, *e); k >= 0) return key_column(static_cast<std::size_t>(k));
      if (e->kind == ExprKind::Aggregate || e->kind == ExprKind::Grouping) {
        int a = find_same(node->aggregates, *e);
        if (a < 0) {
          node->aggregates.push_back(e);
          a = static_cast<int>(node->aggregates.size()) - 1;
        }
        return make_column({.binding = {agg_table, a}, .name = expr_column_name(*e), .type = e->type});
      }
      if (e->kind == ExprKind::Column && from.count(e->binding) != 0) {
        if (has_sets)
          throw binder_.unsupported_at(
              "a column functionally dependent on the GROUP BY key with grouping sets", e->location);
        node->group_keys.push_back(e);  // functionally dependent on the key (PostgreSQL checked it)
        return key_column(node->group_keys.size() - 1);
      }
      if (e->kind == ExprKind::Subquery) {
        for (const ColumnBinding& binding : free_bindings(*e->subplan)) {
          if (from.count(binding) != 0) {
            throw binder_.unsupported_at(
                "a correlated subquery in a grouped query", e->location,
                "Move the subquery into a derived table joined to the grouped result.");
          }
        }
        return e;
      }
      return nullptr;
    };
    block.rewrite_all(replace);
    for (std::size_t i = 0; i < node->group_keys.size(); ++i)
      node->output.push_back({.binding = {node->table_index, static_cast<int>(i)},
                              .name = expr_column_name(*node->group_keys[i]),
                              .type = node->group_keys[i]->type});
    for (std::size_t i = 0; i < node->aggregates.size(); ++i) {
      node->output.push_back({.binding = {agg_table, static_cast<int>(i)},
                              .name = expr_column_name(*node->aggregates[i]),
                              .type = node->aggregates[i]->type});
    }
    node->inputs.push_back(std::move(input));
    PlanPtr plan = node;
    if (block.having) plan = make_filter(plan, block.having);
    block.having = nullptr;
    return plan;
  }

  // One Window node per distinct window specification.
  PlanPtr windows(PlanPtr plan, Block& block) {
    std::vector<ExprPtr> found;
    auto collect = [&](const ExprPtr& expr) {
      walk_expr(expr, [&](const ExprPtr& e) {
        if (e->kind == ExprKind::Window && find_same(found, *e) < 0) found.push_back(e);
      });
    };
    for (const Target& target : block.targets) collect(target.expr);
    for (const SortKey& key : block.order) collect(key.expr);
    for (const ExprPtr& expr : block.distinct_on) collect(expr);
    while (!found.empty()) {
      auto spec_key = [](const ExprPtr& e) {
        Expr key;
        key.kind = ExprKind::Window;
        key.window = e->window;
        return key;
      };
      const Expr first = spec_key(found.front());
      auto node = std::make_shared<PlanNode>();
      node->kind = PlanKind::Window;
      node->table_index = binder_.next_table_index();
      node->output = plan->output;
      std::vector<ExprPtr> rest;
      for (const ExprPtr& e : found) {
        if (same_expr(spec_key(e), first))
          node->window_functions.push_back(e);
        else
          rest.push_back(e);
      }
      for (std::size_t i = 0; i < node->window_functions.size(); ++i) {
        node->output.push_back({.binding = {node->table_index, static_cast<int>(i)},
                                .name = node->window_functions[i]->name,
                                .type = node->window_functions[i]->type});
      }
      const std::size_t base = plan->output.size();
      block.rewrite_all([&](const ExprPtr& e) -> ExprPtr {
        if (e->kind != ExprKind::Window) return e->kind == ExprKind::Subquery ? e : nullptr;
        const int i = find_same(node->window_functions, *e);
        return i < 0 ? nullptr : make_column(node->output[base + static_cast<std::size_t>(i)]);
      });
      node->inputs.push_back(plan);
      plan = node;
      found = rest;
    }
    return plan;
  }

 private:
  static bool reads_only(const ExprPtr& expr, const std::set<ColumnBinding>& available) {
    std::vector<ColumnBinding> used;
    collect_bindings(expr, used);
    return !used.empty() && std::all_of(used.begin(), used.end(),
                                        [&](const ColumnBinding& b) { return available.count(b) != 0; });
  }

  // Returns the replacement of `sub`, having joined the grouped subquery to
  // `plan`; null if `sub` does not have the shape.
  ExprPtr decorrelate_one(const Expr& sub, PlanPtr& plan, const std::set<ColumnBinding>& outer) {
    const PlanPtr& project = sub.subplan;
    if (project->kind != PlanKind::Project || project->exprs.size() != 1) return nullptr;
    const PlanPtr& aggregate = project->inputs[0];
    if (aggregate->kind != PlanKind::Aggregate || !aggregate->group_keys.empty()) return nullptr;
    PlanPtr base = aggregate->inputs[0];
    std::vector<ExprPtr> conjuncts;
    if (base->kind == PlanKind::Filter) {
      std::function<void(const ExprPtr&)> split = [&](const ExprPtr& x) {
        if (x->kind == ExprKind::Bool && x->bool_op == BoolOp::And) {
          for (const ExprPtr& arg : x->args) split(arg);
        } else {
          conjuncts.push_back(x);
        }
      };
      split(base->predicate);
      base = base->inputs[0];
    }
    if (!free_bindings(*base).empty()) return nullptr;
    std::set<ColumnBinding> inner;
    for (const OutputColumn& column : base->output) inner.insert(column.binding);
    std::vector<ExprPtr> local;
    std::vector<std::pair<ExprPtr, ExprPtr>> keys;  // inner, outer
    for (const ExprPtr& conjunct : conjuncts) {
      if (reads_only(conjunct, inner)) {
        local.push_back(conjunct);
        continue;
      }
      if (conjunct->kind != ExprKind::Operator || conjunct->name != "=" || conjunct->args.size() != 2)
        return nullptr;
      const ExprPtr& a = conjunct->args[0];
      const ExprPtr& b = conjunct->args[1];
      if (reads_only(a, inner) && reads_only(b, outer))
        keys.emplace_back(a, b);
      else if (reads_only(b, inner) && reads_only(a, outer))
        keys.emplace_back(b, a);
      else
        return nullptr;
    }
    if (keys.empty()) return nullptr;
    std::vector<ColumnBinding> agg_reads;
    for (const ExprPtr& agg : aggregate->aggregates) collect_bindings(agg, agg_reads);
    if (!std::all_of(agg_reads.begin(), agg_reads.end(),
                     [&](const auto& b) { return inner.count(b) != 0; })) {
      return nullptr;
    }
    PlanPtr input = base;
    if (!local.empty()) {
      auto all = std::make_shared<Expr>();
      all->kind = ExprKind::Bool;
      all->bool_op = BoolOp::And;
      all->type = {.oid = 16};
      all->args = local;
      input = make_filter(base, local.size() == 1 ? local[0] : all);
    }
    auto grouped = std::make_shared<PlanNode>(*aggregate);
    grouped->table_index = binder_.next_table_index();
    grouped->inputs = {input};
    grouped->output.clear();
    for (std::size_t i = 0; i < keys.size(); ++i) {
      grouped->group_keys.push_back(keys[i].first);
      grouped->output.push_back({.binding = {grouped->table_index, static_cast<int>(i)},
                                 .name = expr_column_name(*keys[i].first),
                                 .type = keys[i].first->type});
    }
    grouped->output.insert(grouped->output.end(), aggregate->output.begin(), aggregate->output.end());
    auto join = std::make_shared<PlanNode>();
    join->kind = PlanKind::Join;
    join->join_type = JoinType::Left;
    join->output = plan->output;
    join->output.insert(join->output.end(), grouped->output.begin(), grouped->output.end());
    std::vector<ExprPtr> equalities;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      ExprPtr equal =
          binder_.make_operator("=", keys[i].second, make_column(grouped->output[i]), sub.location);
      binder_.type_expr(equal);
      equalities.push_back(equal);
    }
    if (equalities.size() == 1) {
      join->predicate = equalities[0];
    } else {
      join->predicate = std::make_shared<Expr>();
      join->predicate->kind = ExprKind::Bool;
      join->predicate->bool_op = BoolOp::And;
      join->predicate->type = {.oid = 16};
      join->predicate->args = equalities;
    }
    join->inputs = {plan, grouped};
    plan = join;
    // The value: the projection over the aggregates, count()s of no rows being 0.
    std::map<ColumnBinding, bool> counts;
    for (std::size_t i = 0; i < aggregate->aggregates.size(); ++i) {
      counts[aggregate->output[i].binding] = aggregate->aggregates[i]->name == "count";
    }
    return rewrite(project->exprs[0], [&](const ExprPtr& e) -> ExprPtr {
      if (e->kind != ExprKind::Column || !counts[e->binding]) return nullptr;
      auto zero = std::make_shared<Expr>();
      zero->kind = ExprKind::Const;
      zero->literal = "0";
      zero->type = {.oid = 23};
      auto coalesce = std::make_shared<Expr>();
      coalesce->kind = ExprKind::Coalesce;
      coalesce->location = sub.location;
      coalesce->args = {e, zero};
      binder_.type_expr(coalesce);
      return coalesce;
    });
  }

  static bool is_star(const PgQuery__ColumnRef& ref) {
    return ref.n_fields > 0 && ref.fields[ref.n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR;
  }

  void expand_star(const PgQuery__ColumnRef& ref, Block& block) {
    const std::string qualifier = ref.n_fields >= 2 ? node_string(ref.fields[ref.n_fields - 2]) : "";
    bool matched = false;
    for (const ScopeItem& item : scope_.items) {
      if (!qualifier.empty() && item.alias != qualifier) continue;
      matched = true;
      for (const ScopeColumn& column : item.columns) {
        if (column.hidden && qualifier.empty()) continue;
        block.targets.push_back({.name = column.name, .expr = column.expr, .location = ref.location});
      }
    }
    if (!matched) throw binder_.unsupported_at("this * reference", ref.location);
  }

  int key_index(const ExprPtr& expr, std::vector<ExprPtr>& keys) {
    int k = find_same(keys, *expr);
    if (k < 0) {
      keys.push_back(expr);
      k = static_cast<int>(keys.size()) - 1;
    }
    return k;
  }

  GroupingSets expand(const PgQuery__Node& node, const Block& block, std::vector<ExprPtr>& keys) {
    if (node.node_case != PG_QUERY__NODE__NODE_GROUPING_SET) {
      return {{key_index(bind_output_ref(node, block, false), keys)}};
    }
    const PgQuery__GroupingSet& set = *node.grouping_set;
    auto element = [&](const PgQuery__Node& item) {
      std::vector<int> out;
      if (item.node_case == PG_QUERY__NODE__NODE_GROUPING_SET) {
        for (const auto& s : expand(item, block, keys)) out.insert(out.end(), s.begin(), s.end());
      } else if (item.node_case == PG_QUERY__NODE__NODE_ROW_EXPR) {
        for (std::size_t i = 0; i < item.row_expr->n_args; ++i) {
          out.push_back(key_index(bind_output_ref(*item.row_expr->args[i], block, false), keys));
        }
      } else {
        out.push_back(key_index(bind_output_ref(item, block, false), keys));
      }
      return out;
    };
    GroupingSets out;
    switch (set.kind) {
      case PG_QUERY__GROUPING_SET_KIND__GROUPING_SET_EMPTY: return {{}};
      case PG_QUERY__GROUPING_SET_KIND__GROUPING_SET_SIMPLE: {
        std::vector<int> all;
        for (std::size_t i = 0; i < set.n_content; ++i) {
          const auto part = element(*set.content[i]);
          all.insert(all.end(), part.begin(), part.end());
        }
        return {all};
      }
      case PG_QUERY__GROUPING_SET_KIND__GROUPING_SET_ROLLUP: {
        std::vector<std::vector<int>> parts;
        for (std::size_t i = 0; i < set.n_content; ++i) parts.push_back(element(*set.content[i]));
        for (std::size_t n = parts.size() + 1; n > 0; --n) {
          std::vector<int> prefix;
          for (std::size_t i = 0; i + 1 < n; ++i)
            prefix.insert(prefix.end(), parts[i].begin(), parts[i].end());
          out.push_back(prefix);
        }
        return out;
      }
      case PG_QUERY__GROUPING_SET_KIND__GROUPING_SET_CUBE: {
        std::vector<std::vector<int>> parts;
        for (std::size_t i = 0; i < set.n_content; ++i) parts.push_back(element(*set.content[i]));
        if (parts.size() > 12) throw binder_.unsupported_at("CUBE of more than 12 elements", set.location);
        for (std::size_t mask = (std::size_t{1} << parts.size()); mask > 0; --mask) {
          std::vector<int> chosen;
          for (std::size_t i = 0; i < parts.size(); ++i) {
            if (((mask - 1) >> (parts.size() - 1 - i) & 1U) != 0)
              chosen.insert(chosen.end(), parts[i].begin(), parts[i].end());
          }
          out.push_back(chosen);
        }
        return out;
      }
      case PG_QUERY__GROUPING_SET_KIND__GROUPING_SET_SETS:
        for (std::size_t i = 0; i < set.n_content; ++i) {
          for (auto& s : expand(*set.content[i], block, keys)) out.push_back(std::move(s));
        }
        return out;
      default: throw binder_.unsupported_at("this grouping set", set.location);
    }
  }

  Binder& binder_;
  const PgQuery__SelectStmt& stmt_;
  Scope& scope_;
  CteScope* ctes_;
};

PlanPtr Binder::bind_simple_select(const PgQuery__SelectStmt& stmt, const Scope* outer, CteScope* ctes) {
  const bool keep_order = keep_order_;  // for this SELECT only, not the ones nested in it
  keep_order_ = false;
  const bool branch = set_branch_;
  set_branch_ = false;
  const PgQuery__SelectStmt* saved_windows = window_block_;
  window_block_ = &stmt;
  Scope scope{.items = {}, .parent = outer};
  PlanPtr plan = bind_from_list(stmt, scope, ctes);
  if (stmt.where_clause != nullptr) {
    plan = bind_where(*stmt.where_clause, plan, scope, ctes);
    plan = SelectBinder(*this, stmt, scope, ctes).decorrelate_where(plan);
  }
  SelectBinder select(*this, stmt, scope, ctes);
  Block block;
  select.bind_targets(block);
  select.bind_order(block);
  if (stmt.having_clause != nullptr) block.having = bind_expr(*stmt.having_clause, scope, ctes);
  if (stmt.n_group_clause > 0 || block.has_aggregate()) {
    plan = select.aggregate(plan, block);
  } else {
    plan = select.decorrelate_scalar_subqueries(plan, block);
  }
  plan = select.windows(plan, block);
  // Project the targets, plus hidden columns for ORDER BY / DISTINCT ON keys that are not targets.
  std::vector<Target> targets = block.targets;
  const std::size_t visible = targets.size();
  std::vector<ExprPtr> target_exprs;
  target_exprs.reserve(targets.size());
  for (const Target& target : targets) target_exprs.push_back(target.expr);
  auto slot = [&](const ExprPtr& expr) {
    int i = find_same(target_exprs, *expr);
    if (i < 0) {
      targets.push_back(
          {.name = "__pgs_sort_" + std::to_string(targets.size()), .expr = expr, .location = -1});
      target_exprs.push_back(expr);
      i = static_cast<int>(targets.size()) - 1;
    }
    return static_cast<std::size_t>(i);
  };
  const bool top_k =
      stmt.limit_count != nullptr || stmt.limit_offset != nullptr || (keep_order && !block.order.empty());
  const bool distinct_on = !block.distinct_on.empty();
  std::vector<std::size_t> order_slots;
  std::vector<std::size_t> distinct_slots;
  if (top_k || distinct_on) {
    for (const SortKey& key : block.order) order_slots.push_back(slot(key.expr));
  }
  for (const ExprPtr& expr : block.distinct_on) distinct_slots.push_back(slot(expr));
  set_branch_ = branch;
  PlanPtr project = make_project(plan, std::move(targets));
  set_branch_ = false;
  auto sort_keys = [&] {
    std::vector<SortKey> keys;
    for (std::size_t i = 0; i < order_slots.size(); ++i) {
      keys.push_back({.expr = make_column(project->output[order_slots[i]]),
                      .descending = block.order[i].descending,
                      .nulls_first = block.order[i].nulls_first});
    }
    return keys;
  };
  plan = project;
  if (stmt.n_distinct_clause > 0) {
    auto distinct = std::make_shared<PlanNode>();
    distinct->kind = PlanKind::Distinct;
    distinct->output = plan->output;
    for (std::size_t s : distinct_slots) distinct->distinct_on.push_back(make_column(project->output[s]));
    if (distinct_on) distinct->sort_keys = sort_keys();
    distinct->inputs.push_back(plan);
    plan = distinct;
  }
  if (top_k) {
    auto top = std::make_shared<PlanNode>();
    top->kind = PlanKind::TopK;
    top->output = plan->output;
    top->limit = constant_count(stmt.limit_count, *this, "LIMIT");
    top->offset = constant_count(stmt.limit_offset, *this, "OFFSET").value_or(0);
    top->with_ties = stmt.limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES;
    top->sort_keys = sort_keys();
    top->inputs.push_back(plan);
    plan = top;
  }
  if (project->output.size() > visible) {
    std::vector<Target> shown;
    for (std::size_t i = 0; i < visible; ++i) {
      shown.push_back(
          {.name = project->output[i].name, .expr = make_column(project->output[i]), .location = -1});
    }
    plan = make_project(plan, std::move(shown));
  }
  set_branch_ = branch;
  window_block_ = saved_windows;
  return plan;
}

}  // namespace pgstream::sql
