// FROM clauses: relations, views, CTEs, subqueries, functions, joins; and
// WHERE, where EXISTS / IN subqueries become semi and anti joins.
#include <algorithm>
#include <cctype>
#include <optional>
#include <set>
#include <string_view>

#include "binder.hpp"
#include "pgstream/sql/compiler.hpp"

namespace pgstream::sql {

namespace {

// PostgreSQL's wording, which the binder uses too (missing_relation reads it).
constexpr std::string_view kMissingRelationPrefix = "relation \"";
constexpr std::string_view kMissingRelationSuffix = "\" does not exist";

constexpr int kMaxViewDepth = 32;

PlanPtr make_join(JoinType type, PlanPtr left, PlanPtr right) {
  auto join = std::make_shared<PlanNode>();
  join->kind = PlanKind::Join;
  join->join_type = type;
  join->output = left->output;
  if (type != JoinType::Semi && type != JoinType::Anti) {
    join->output.insert(join->output.end(), right->output.begin(), right->output.end());
  }
  std::set<ColumnBinding> left_bindings;
  for (const OutputColumn& column : left->output) left_bindings.insert(column.binding);
  for (const ColumnBinding& binding : free_bindings(*right)) {
    if (left_bindings.count(binding) != 0) join->lateral = true;
  }
  join->inputs = {std::move(left), std::move(right)};
  return join;
}

ExprPtr conjunction(std::vector<ExprPtr> parts) {
  if (parts.empty()) return nullptr;
  if (parts.size() == 1) return parts[0];
  auto all = std::make_shared<Expr>();
  all->kind = ExprKind::Bool;
  all->bool_op = BoolOp::And;
  all->type = {.oid = 16};
  all->args = std::move(parts);
  return all;
}

void flatten_and(const PgQuery__Node& node, std::vector<const PgQuery__Node*>& out) {
  if (node.node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
      node.bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR) {
    for (std::size_t i = 0; i < node.bool_expr->n_args; ++i) flatten_and(*node.bool_expr->args[i], out);
    return;
  }
  out.push_back(&node);
}

void split_conjuncts(const ExprPtr& expr, std::vector<ExprPtr>& out) {
  if (expr->kind == ExprKind::Bool && expr->bool_op == BoolOp::And) {
    for (const ExprPtr& arg : expr->args) split_conjuncts(arg, out);
    return;
  }
  out.push_back(expr);
}

void collect_produced(const PlanNode& node, std::set<ColumnBinding>& out) {
  for (const OutputColumn& column : node.output) out.insert(column.binding);
  for (const PlanPtr& input : node.inputs) collect_produced(*input, out);
}

}  // namespace

void Binder::add_item(Scope& scope, const PlanPtr& plan, const std::string& alias,
                      const PgQuery__Alias* user_alias) {
  ScopeItem item;
  item.alias = user_alias != nullptr ? user_alias->aliasname : alias;
  for (std::size_t i = 0; i < plan->output.size(); ++i) {
    OutputColumn column = plan->output[i];
    if (user_alias != nullptr && i < user_alias->n_colnames)
      column.name = node_string(user_alias->colnames[i]);
    ExprPtr expr = make_column(column);
    expr->literal = item.alias;  // the qualifier, for explain
    item.columns.push_back({.name = column.name, .expr = std::move(expr), .hidden = false});
  }
  scope.items.push_back(std::move(item));
}

PlanPtr Binder::bind_from_list(const PgQuery__SelectStmt& stmt, Scope& scope, CteScope* ctes) {
  PlanPtr plan;
  for (std::size_t i = 0; i < stmt.n_from_clause; ++i) {
    PlanPtr item = bind_from_item(*stmt.from_clause[i], scope, ctes);
    plan = plan ? make_join(JoinType::Inner, plan, item) : item;
  }
  if (!plan) {
    plan = std::make_shared<PlanNode>();
    plan->kind = PlanKind::Values;
    plan->table_index = next_table_index();
    plan->rows.emplace_back();
  }
  return plan;
}

PlanPtr Binder::bind_from_item(const PgQuery__Node& node, Scope& scope, CteScope* ctes) {
  switch (node.node_case) {
    case PG_QUERY__NODE__NODE_RANGE_VAR: return bind_range_var(*node.range_var, scope, ctes);
    case PG_QUERY__NODE__NODE_RANGE_SUBSELECT: return bind_subselect(*node.range_subselect, scope, ctes);
    case PG_QUERY__NODE__NODE_RANGE_FUNCTION: return bind_range_function(*node.range_function, scope, ctes);
    case PG_QUERY__NODE__NODE_JOIN_EXPR: return bind_join(*node.join_expr, scope, ctes);
    case PG_QUERY__NODE__NODE_RANGE_TABLE_SAMPLE:
      throw unsupported_at("TABLESAMPLE", node_location(*node.range_table_sample->relation),
                           "Sampling is random; use refresh_mode: FULL.");
    case PG_QUERY__NODE__NODE_RANGE_TABLE_FUNC:
      throw unsupported_at("XMLTABLE", -1, "Use refresh_mode: FULL.");
    default: throw unsupported_at("this FROM item", -1);
  }
}

PlanPtr Binder::bind_range_var(const PgQuery__RangeVar& range, Scope& scope, CteScope* ctes) {
  const std::string schema = range.schemaname != nullptr ? range.schemaname : "";
  const std::string name = range.relname;
  if (schema.empty()) {
    for (CteScope* level = ctes; level != nullptr; level = level->parent) {
      auto found = level->ctes.find(name);
      if (found != level->ctes.end()) return bind_cte_ref(found->second, name, range, scope, ctes);
    }
  }
  std::optional<RelationRef> ref = catalog_.find_relation(schema, name);
  if (!ref) {
    throw Error(ErrorKind::Config,
                std::string(kMissingRelationPrefix) + (schema.empty() ? name : schema + "." + name) +
                    std::string(kMissingRelationSuffix),
                {.sqlstate = "42P01",
                 .detail = "",
                 .hint = schema.empty() ? "Unqualified names are looked up in the search_path of pgstream's "
                                          "connection; qualify the name with its schema."
                                        : ""});
  }
  const std::string qualified = ref->schema + "." + ref->name;
  if (target_ != 0 && ref->oid == target_) {
    throw unsupported_at(
        "the stream table " + qualified + " reading itself", range.location,
        "A stream table cannot depend on its own contents; use WITH RECURSIVE for recursion.");
  }
  if (ref->persistence == 't') {
    throw unsupported_at("the temporary table " + ref->name, range.location,
                         "Temporary tables are invisible to other sessions and to logical replication; "
                         "use an ordinary table.");
  }
  if (ref->persistence == 'u') {
    throw unsupported_at(
        "the unlogged table " + qualified, range.location,
        "Unlogged tables are not written to the WAL, so their changes never reach pg_stream; "
        "use a logged table or refresh_mode: FULL.");
  }
  switch (ref->relkind) {
    case 'v': return bind_view(*ref, range, scope);
    case 'm':
      throw unsupported_at(
          "the materialized view " + qualified, range.location,
          "REFRESH MATERIALIZED VIEW is not logically replicated; define it as a stream table "
          "instead, or use refresh_mode: FULL.");
    case 'f':
      throw unsupported_at("the foreign table " + qualified, range.location,
                           "Foreign tables have no change stream; use refresh_mode: FULL.");
    case 'r':
    case 'p': break;
    default: throw unsupported_at("the relation " + qualified + " (of this kind)", range.location);
  }
  if (ref->row_security) {
    throw unsupported_at("the table " + qualified + " with row-level security", range.location,
                         "pg_stream sees every row through replication, not the rows a policy allows; "
                         "use refresh_mode: FULL.");
  }
  if (ref->has_inheritance_children && range.inh) {
    throw unsupported_at("the inheritance parent " + qualified, range.location,
                         "Its children's changes are not attributed to it; use ONLY, a partitioned table, "
                         "or refresh_mode: FULL.");
  }
  if (!range.inh && ref->relkind == 'p') {
    throw unsupported_at("ONLY on the partitioned table " + qualified, range.location, "Remove ONLY.");
  }
  auto scan = std::make_shared<PlanNode>();
  scan->kind = PlanKind::Scan;
  scan->table_index = next_table_index();
  scan->relation = catalog_.load_relation(*ref);
  scan->alias = range.alias != nullptr ? range.alias->aliasname : name;
  for (std::size_t i = 0; i < scan->relation->columns.size(); ++i) {
    const RelationColumn& column = scan->relation->columns[i];
    scan->scan_columns.push_back(static_cast<int>(i));
    scan->output.push_back(
        {.binding = {scan->table_index, static_cast<int>(i)}, .name = column.name, .type = column.type});
  }
  const bool known =
      std::any_of(sources_.begin(), sources_.end(), [&](const auto& s) { return s->oid == ref->oid; });
  if (!known) sources_.push_back(scan->relation);
  add_item(scope, scan, name, range.alias);
  return scan;
}

PlanPtr Binder::bind_view(const RelationRef& ref, const PgQuery__RangeVar& range, Scope& scope) {
  if (view_depth_ >= kMaxViewDepth) throw unsupported_at("views nested more than 32 deep", range.location);
  const std::string qualified = ref.schema + "." + ref.name;
  if (std::find(views_.begin(), views_.end(), qualified) == views_.end()) views_.push_back(qualified);
  view_trees_.push_back(std::make_unique<ParseTree>(ParseTree::parse(ref.view_definition)));
  const ParseTree& tree = *view_trees_.back();
  view_refs_[text_][range.location] = {
      .has_alias = range.alias != nullptr, .definition = &tree.text(), .name = ref.name};
  const std::string* saved_text = text_;
  const bool saved_branch = set_branch_;
  text_ = &tree.text();
  set_branch_ = false;
  ++view_depth_;
  PlanPtr plan;
  try {
    plan = bind_query_node(tree.single_statement(), nullptr, nullptr);
  } catch (const Error& error) {
    --view_depth_;
    text_ = saved_text;
    if (error.kind() != ErrorKind::Unsupported) throw;
    throw Error(ErrorKind::Unsupported,
                error.message() + " in the view " + qualified + " (used at " +
                    describe_position(position_of(*text_, range.location)) + ")",
                {.sqlstate = error.sqlstate(), .detail = error.detail(), .hint = error.hint()});
  }
  --view_depth_;
  text_ = saved_text;
  set_branch_ = saved_branch;
  for (std::size_t i = 0; i < plan->output.size() && i < ref.column_names.size(); ++i) {
    plan->output[i].name = ref.column_names[i];
  }
  plan->alias = qualified;
  add_item(scope, plan, ref.name, range.alias);
  return plan;
}

std::string Binder::expanded_text(const std::string& text) const {
  std::string out = text;
  while (!out.empty() && (out.back() == ';' || std::isspace(static_cast<unsigned char>(out.back())) != 0))
    out.pop_back();
  auto refs = view_refs_.find(&text);
  if (refs == view_refs_.end()) return out;
  const std::vector<TokenSpan> tokens = scan_tokens(out);
  for (auto ref = refs->second.rbegin(); ref != refs->second.rend(); ++ref) {
    const int location = ref->first;
    std::size_t k = 0;
    while (k < tokens.size() && tokens[k].start != location) ++k;
    if (k == tokens.size()) throw Error(ErrorKind::Internal, "a view reference is not at a token boundary");
    int end = tokens[k].end;
    while (k + 2 < tokens.size() && out[static_cast<std::size_t>(tokens[k + 1].start)] == '.') {
      end = tokens[k + 2].end;
      k += 2;
    }
    std::string replacement = "(" + expanded_text(*ref->second.definition) + ")";
    if (!ref->second.has_alias)
      replacement += " AS " + catalog_.connection().quote_identifier(ref->second.name);
    out.replace(static_cast<std::size_t>(location), static_cast<std::size_t>(end - location), replacement);
  }
  return out;
}

PlanPtr Binder::bind_cte_ref(CteEntry& entry, const std::string& name, const PgQuery__RangeVar& range,
                             Scope& scope, CteScope* ctes) {
  (void)ctes;
  PlanPtr shared;
  if (entry.work_table) {
    auto scan = std::make_shared<PlanNode>();
    scan->kind = PlanKind::WorkTableScan;
    scan->table_index = next_table_index();
    scan->alias = name;
    scan->work_table_of = entry.work_table->table_index;
    for (std::size_t i = 0; i < entry.work_table->output.size(); ++i) {
      OutputColumn column = entry.work_table->output[i];
      column.binding = {scan->table_index, static_cast<int>(i)};
      scan->output.push_back(column);
    }
    add_item(scope, scan, name, range.alias);
    return scan;
  }
  if (!entry.plan) {
    const std::string* saved_text = text_;
    const bool saved_branch = set_branch_;
    text_ = entry.text;
    set_branch_ = false;
    entry.plan = entry.recursive ? bind_recursive_cte(entry, name, entry.owner)
                                 : bind_query_node(*entry.cte->ctequery, nullptr, entry.owner);
    text_ = saved_text;
    set_branch_ = saved_branch;
    entry.plan->alias = name;
    for (std::size_t i = 0; i < entry.cte->n_aliascolnames && i < entry.plan->output.size(); ++i) {
      entry.plan->output[i].name = node_string(entry.cte->aliascolnames[i]);
    }
  }
  // Each reference gets its own bindings over the one shared plan.
  std::vector<Target> targets;
  for (const OutputColumn& column : entry.plan->output) {
    targets.push_back({.name = column.name, .expr = make_column(column), .location = -1});
  }
  PlanPtr reference = make_project(entry.plan, std::move(targets));
  reference->alias = name;
  add_item(scope, reference, name, range.alias);
  return reference;
}

PlanPtr Binder::bind_subselect(const PgQuery__RangeSubselect& sub, Scope& scope, CteScope* ctes) {
  const bool saved_branch = set_branch_;
  set_branch_ = false;
  PlanPtr plan = bind_query_node(*sub.subquery, sub.lateral ? &scope : scope.parent, ctes);
  set_branch_ = saved_branch;
  plan->alias = sub.alias != nullptr ? sub.alias->aliasname : "subquery";
  add_item(scope, plan, plan->alias, sub.alias);
  return plan;
}

PlanPtr Binder::bind_range_function(const PgQuery__RangeFunction& range, Scope& scope, CteScope* ctes) {
  if (range.n_functions != 1 || range.is_rowsfrom) {
    throw unsupported_at("ROWS FROM (...) with several functions", -1,
                         "Use one set-returning function per FROM item.");
  }
  const PgQuery__List& pair = *range.functions[0]->list;
  const PgQuery__Node& call = *pair.items[0];
  if (range.n_coldeflist > 0 ||
      (pair.n_items > 1 && pair.items[1] != nullptr &&
       pair.items[1]->node_case == PG_QUERY__NODE__NODE_LIST && pair.items[1]->list->n_items > 0)) {
    throw unsupported_at("a column definition list on a function in FROM", node_location(call),
                         "Use a function with declared output columns.");
  }
  if (call.node_case != PG_QUERY__NODE__NODE_FUNC_CALL) {
    throw unsupported_at("this function form in FROM", node_location(call));
  }
  ExprPtr expr = bind_expr(call, scope, ctes);
  const ProbeResult probe = catalog_.probe(
      probe_sql(*expr, range.ordinality ? ProbeShape::FromItemWithOrdinality : ProbeShape::FromItem));
  auto node = std::make_shared<PlanNode>();
  node->kind = PlanKind::FunctionScan;
  node->table_index = next_table_index();
  node->exprs.push_back(expr);
  node->with_ordinality = range.ordinality;
  std::vector<ColumnBinding> used;
  collect_bindings(expr, used);
  node->lateral = !used.empty();
  const std::string alias = range.alias != nullptr ? range.alias->aliasname : expr->name;
  const bool scalar = !probe.columns.empty() && probe.columns[0].name == "pgs_f";
  for (std::size_t i = 0; i < probe.columns.size(); ++i) {
    std::string name = probe.columns[i].name;
    if (scalar && i == 0) name = alias;
    if (range.alias != nullptr && i < range.alias->n_colnames) name = node_string(range.alias->colnames[i]);
    node->output.push_back(
        {.binding = {node->table_index, static_cast<int>(i)}, .name = name, .type = probe.columns[i].type});
  }
  node->alias = alias;
  add_item(scope, node, alias, range.alias);
  return node;
}

PlanPtr Binder::bind_join(const PgQuery__JoinExpr& join, Scope& scope, CteScope* ctes) {
  JoinType type = JoinType::Inner;
  switch (join.jointype) {
    case PG_QUERY__JOIN_TYPE__JOIN_INNER: type = JoinType::Inner; break;
    case PG_QUERY__JOIN_TYPE__JOIN_LEFT: type = JoinType::Left; break;
    case PG_QUERY__JOIN_TYPE__JOIN_RIGHT: type = JoinType::Right; break;
    case PG_QUERY__JOIN_TYPE__JOIN_FULL: type = JoinType::Full; break;
    default: throw unsupported_at("this join type", -1);
  }
  const std::size_t first = scope.items.size();
  PlanPtr left = bind_from_item(*join.larg, scope, ctes);
  const std::size_t middle = scope.items.size();
  PlanPtr right = bind_from_item(*join.rarg, scope, ctes);
  PlanPtr plan = make_join(type, left, right);
  Scope join_scope{.items = {scope.items.begin() + static_cast<std::ptrdiff_t>(first), scope.items.end()},
                   .parent = scope.parent};
  if (join.quals != nullptr) plan->predicate = bind_expr(*join.quals, join_scope, ctes);
  if (join.n_using_clause > 0 || join.is_natural) {
    Scope left_scope{.items = {scope.items.begin() + static_cast<std::ptrdiff_t>(first),
                               scope.items.begin() + static_cast<std::ptrdiff_t>(middle)},
                     .parent = nullptr};
    Scope right_scope{.items = {scope.items.begin() + static_cast<std::ptrdiff_t>(middle), scope.items.end()},
                      .parent = nullptr};
    scope.items.resize(first);
    plan = join_using(join, type, plan, left_scope, right_scope, scope);
  }
  if (join.alias != nullptr) {
    ScopeItem merged{.alias = join.alias->aliasname, .columns = {}};
    for (std::size_t i = first; i < scope.items.size(); ++i) {
      for (const ScopeColumn& column : scope.items[i].columns) {
        if (!column.hidden) merged.columns.push_back(column);
      }
    }
    for (std::size_t i = 0; i < merged.columns.size() && i < join.alias->n_colnames; ++i) {
      merged.columns[i].name = node_string(join.alias->colnames[i]);
    }
    scope.items.resize(first);
    scope.items.push_back(std::move(merged));
  }
  return plan;
}

PlanPtr Binder::join_using(const PgQuery__JoinExpr& join, JoinType type, PlanPtr plan, Scope& left,
                           Scope& right, Scope& scope) {
  auto find = [](Scope& side, const std::string& name) -> ScopeColumn* {
    for (ScopeItem& item : side.items) {
      for (ScopeColumn& column : item.columns) {
        if (!column.hidden && column.name == name) return &column;
      }
    }
    return nullptr;
  };
  std::vector<std::string> names;
  if (join.is_natural) {
    for (ScopeItem& item : left.items) {
      for (ScopeColumn& column : item.columns) {
        if (!column.hidden && find(right, column.name) != nullptr) names.push_back(column.name);
      }
    }
  } else {
    for (std::size_t i = 0; i < join.n_using_clause; ++i) names.push_back(node_string(join.using_clause[i]));
  }
  ScopeItem merged{.alias = join.join_using_alias != nullptr ? join.join_using_alias->aliasname : "",
                   .columns = {}};
  std::vector<ExprPtr> equalities;
  if (plan->predicate) equalities.push_back(plan->predicate);
  for (const std::string& name : names) {
    ScopeColumn* l = find(left, name);
    ScopeColumn* r = find(right, name);
    if (l == nullptr || r == nullptr) throw unsupported_at("USING (" + name + ")", -1);
    ExprPtr equal = make_operator("=", l->expr, r->expr, -1);
    type_expr(equal);
    equalities.push_back(equal);
    ExprPtr value = type == JoinType::Right ? r->expr : l->expr;
    if (type == JoinType::Full) {
      value = std::make_shared<Expr>();
      value->kind = ExprKind::Coalesce;
      value->args = {l->expr, r->expr};
      type_expr(value);
    }
    merged.columns.push_back({.name = name, .expr = value, .hidden = false});
    l->hidden = true;
    r->hidden = true;
  }
  plan->predicate = conjunction(std::move(equalities));
  scope.items.push_back(std::move(merged));
  for (ScopeItem& item : left.items) scope.items.push_back(std::move(item));
  for (ScopeItem& item : right.items) scope.items.push_back(std::move(item));
  return plan;
}

PlanPtr Binder::bind_where(const PgQuery__Node& where, PlanPtr plan, Scope& scope, CteScope* ctes) {
  std::vector<const PgQuery__Node*> conjuncts;
  flatten_and(where, conjuncts);
  std::vector<ExprPtr> predicates;
  for (const PgQuery__Node* conjunct : conjuncts) {
    const PgQuery__Node* inner = conjunct;
    bool negated = false;
    if (inner->node_case == PG_QUERY__NODE__NODE_BOOL_EXPR &&
        inner->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__NOT_EXPR) {
      inner = inner->bool_expr->args[0];
      negated = true;
    }
    if (inner->node_case == PG_QUERY__NODE__NODE_SUB_LINK) {
      const PgQuery__SubLink& link = *inner->sub_link;
      const bool row = link.testexpr != nullptr && link.testexpr->node_case == PG_QUERY__NODE__NODE_ROW_EXPR;
      // NOT (row IN ...) and NOT (x op ALL ...) keep SQL's NULL rules only as subplans.
      const bool joinable =
          link.sub_link_type == PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK ||
          (link.sub_link_type == PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK && (!row || !negated)) ||
          (link.sub_link_type == PG_QUERY__SUB_LINK_TYPE__ALL_SUBLINK && !row && !negated);
      if (joinable) {
        plan = try_semi_join(link, negated, plan, scope, ctes);
        continue;
      }
    }
    predicates.push_back(bind_expr(*conjunct, scope, ctes));
  }
  if (predicates.empty()) return plan;
  auto filter = std::make_shared<PlanNode>();
  filter->kind = PlanKind::Filter;
  filter->output = plan->output;
  filter->inputs.push_back(plan);
  filter->predicate = conjunction(std::move(predicates));
  return filter;
}

ExprPtr Binder::make_subquery_expr(const PgQuery__SubLink& link, PlanPtr subplan, const Scope& scope,
                                   CteScope* ctes) {
  auto expr = std::make_shared<Expr>();
  expr->kind = ExprKind::Subquery;
  expr->location = link.location;
  expr->subquery_kind = SubqueryKind::Any;
  if (link.sub_link_type == PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK)
    expr->subquery_kind = SubqueryKind::Exists;
  if (link.sub_link_type == PG_QUERY__SUB_LINK_TYPE__ALL_SUBLINK) expr->subquery_kind = SubqueryKind::All;
  expr->all = expr->subquery_kind == SubqueryKind::All;
  expr->name = link.n_oper_name > 0 ? node_string(link.oper_name[link.n_oper_name - 1]) : "=";
  if (link.testexpr != nullptr) expr->args.push_back(bind_expr(*link.testexpr, scope, ctes));
  expr->subplan = std::move(subplan);
  expr->correlated = !free_bindings(*expr->subplan).empty();
  type_expr(expr);
  return expr;
}

PlanPtr Binder::try_semi_join(const PgQuery__SubLink& link, bool negated, const PlanPtr& plan, Scope& scope,
                              CteScope* ctes) {
  PlanPtr sub = bind_query_node(*link.subselect, &scope, ctes);
  PlanPtr base = sub;
  std::vector<ExprPtr> compared;
  for (const OutputColumn& column : sub->output) compared.push_back(make_column(column));
  std::vector<ExprPtr> local;
  std::vector<ExprPtr> correlated;
  if (sub->kind == PlanKind::Project && sub->exprs.size() == sub->output.size()) {
    base = sub->inputs[0];
    compared = sub->exprs;
    if (base->kind == PlanKind::Filter) {
      split_conjuncts(base->predicate, local);
      base = base->inputs[0];
    }
  }
  std::set<ColumnBinding> produced;
  collect_produced(*base, produced);
  if (!free_bindings(*base).empty()) base = nullptr;
  std::vector<ExprPtr> kept;
  for (const ExprPtr& conjunct : local) {
    std::vector<ColumnBinding> used;
    collect_bindings(conjunct, used);
    const bool inner_only =
        std::all_of(used.begin(), used.end(), [&](const auto& b) { return produced.count(b) != 0; });
    (inner_only ? kept : correlated).push_back(conjunct);
  }
  if (!base) {
    // Correlated below its WHERE (e.g. inside an aggregate): keep it as a subquery expression.
    ExprPtr expr = make_subquery_expr(link, sub, scope, ctes);
    if (negated) {
      auto no = std::make_shared<Expr>();
      no->kind = ExprKind::Bool;
      no->bool_op = BoolOp::Not;
      no->type = {.oid = 16};
      no->args.push_back(expr);
      expr = no;
    }
    auto filter = std::make_shared<PlanNode>();
    filter->kind = PlanKind::Filter;
    filter->output = plan->output;
    filter->inputs.push_back(plan);
    filter->predicate = expr;
    return filter;
  }
  PlanPtr right = base;
  if (!kept.empty()) {
    auto filter = std::make_shared<PlanNode>();
    filter->kind = PlanKind::Filter;
    filter->output = base->output;
    filter->inputs.push_back(base);
    filter->predicate = conjunction(kept);
    right = filter;
  }
  const bool all = link.sub_link_type == PG_QUERY__SUB_LINK_TYPE__ALL_SUBLINK;
  if (link.sub_link_type != PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK) {
    const std::string op = link.n_oper_name > 0 ? node_string(link.oper_name[link.n_oper_name - 1]) : "=";
    std::vector<ExprPtr> left;
    if (link.testexpr->node_case == PG_QUERY__NODE__NODE_ROW_EXPR) {
      left = bind_list(link.testexpr->row_expr->args, link.testexpr->row_expr->n_args, scope, ctes);
    } else {
      left.push_back(bind_expr(*link.testexpr, scope, ctes));
    }
    if (left.size() != compared.size()) throw unsupported_at("a subquery of the wrong width", link.location);
    for (std::size_t i = 0; i < left.size(); ++i) {
      ExprPtr condition = make_operator(op, left[i], compared[i], link.location);
      type_expr(condition);
      if (all) {
        // WHERE x op ALL (S) keeps x unless some s makes (x op s) not true.
        auto not_true = std::make_shared<Expr>();
        not_true->kind = ExprKind::BoolTest;
        not_true->test = 1;
        not_true->negated = true;
        not_true->type = {.oid = 16};
        not_true->args.push_back(condition);
        condition = not_true;
      }
      correlated.push_back(condition);
    }
  }
  PlanPtr join = make_join(negated || all ? JoinType::Anti : JoinType::Semi, plan, right);
  join->null_aware = negated && link.sub_link_type == PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK;
  join->predicate = conjunction(std::move(correlated));
  join->lateral = false;
  return join;
}

std::optional<std::string> missing_relation(const Error& error) {
  if (error.sqlstate() != "42P01") return std::nullopt;
  const std::string& message = error.message();  // may be prefixed by where it happened
  const std::size_t open = message.find(kMissingRelationPrefix);
  if (open == std::string::npos) return std::nullopt;
  const std::size_t begin = open + kMissingRelationPrefix.size();
  const std::size_t close = message.find(kMissingRelationSuffix, begin);
  if (close == std::string::npos) return std::nullopt;
  return message.substr(begin, close - begin);
}

}  // namespace pgstream::sql
