// Expressions: binding the raw parse tree's expressions to columns, functions
// and operators (typing happens in type_probe.cpp).
#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "binder.hpp"
#include "pgstream/engine/datum.hpp"

namespace pgstream::sql {

namespace {

ExprPtr make_expr(ExprKind kind, int location) {
  auto expr = std::make_shared<Expr>();
  expr->kind = kind;
  expr->location = location;
  return expr;
}

}  // namespace

std::string node_string(const PgQuery__Node* node) {
  if (node == nullptr) return {};
  if (node->node_case == PG_QUERY__NODE__NODE_STRING) return node->string->sval;
  return {};
}

ExprPtr make_column(const OutputColumn& column) {
  auto expr = make_expr(ExprKind::Column, -1);
  expr->binding = column.binding;
  expr->name = column.name;
  expr->type = column.type;
  return expr;
}

int node_location(const PgQuery__Node& node) {
  switch (node.node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF: return node.column_ref->location;
    case PG_QUERY__NODE__NODE_A_EXPR: return node.a_expr->location;
    case PG_QUERY__NODE__NODE_FUNC_CALL: return node.func_call->location;
    case PG_QUERY__NODE__NODE_A_CONST: return node.a_const->location;
    case PG_QUERY__NODE__NODE_TYPE_CAST: return node.type_cast->location;
    case PG_QUERY__NODE__NODE_SUB_LINK: return node.sub_link->location;
    case PG_QUERY__NODE__NODE_BOOL_EXPR: return node.bool_expr->location;
    case PG_QUERY__NODE__NODE_CASE_EXPR: return node.case_expr->location;
    case PG_QUERY__NODE__NODE_RES_TARGET: return node.res_target->location;
    case PG_QUERY__NODE__NODE_RANGE_VAR: return node.range_var->location;
    case PG_QUERY__NODE__NODE_SORT_BY: return node.sort_by->location;
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION: return node.sqlvalue_function->location;
    case PG_QUERY__NODE__NODE_NULL_TEST: return node.null_test->location;
    case PG_QUERY__NODE__NODE_BOOLEAN_TEST: return node.boolean_test->location;
    case PG_QUERY__NODE__NODE_COALESCE_EXPR: return node.coalesce_expr->location;
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR: return node.min_max_expr->location;
    case PG_QUERY__NODE__NODE_ROW_EXPR: return node.row_expr->location;
    case PG_QUERY__NODE__NODE_A_ARRAY_EXPR: return node.a_array_expr->location;
    case PG_QUERY__NODE__NODE_COLLATE_CLAUSE: return node.collate_clause->location;
    case PG_QUERY__NODE__NODE_GROUPING_FUNC: return node.grouping_func->location;
    case PG_QUERY__NODE__NODE_PARAM_REF: return node.param_ref->location;
    case PG_QUERY__NODE__NODE_GROUPING_SET: return node.grouping_set->location;
    case PG_QUERY__NODE__NODE_A_INDIRECTION:
      return node.a_indirection->arg != nullptr ? node_location(*node.a_indirection->arg) : -1;
    default: return -1;
  }
}

Error Binder::unsupported_at(std::string_view construct, int location, std::string hint) const {
  if (view_depth_ > 0) location = -1;  // inside a view: no position in the user's text
  return unsupported(*text_, construct, location, std::move(hint));
}

std::vector<ExprPtr> Binder::bind_list(PgQuery__Node* const* items, std::size_t count, const Scope& scope,
                                       CteScope* ctes) {
  std::vector<ExprPtr> out;
  out.reserve(count);
  for (std::size_t i = 0; i < count; ++i) out.push_back(bind_expr(*items[i], scope, ctes));
  return out;
}

std::vector<SortKey> Binder::bind_sort(PgQuery__Node* const* items, std::size_t count, const Scope& scope,
                                       CteScope* ctes) {
  std::vector<SortKey> keys;
  for (std::size_t i = 0; i < count; ++i) {
    const PgQuery__SortBy& sort = *items[i]->sort_by;
    if (sort.sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING) {
      throw unsupported_at("ORDER BY ... USING", sort.location, "Use ASC or DESC.");
    }
    SortKey key;
    key.expr = bind_expr(*sort.node, scope, ctes);
    key.descending = sort.sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
    key.nulls_first = sort.sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST ||
                      (key.descending && sort.sortby_nulls != PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST);
    keys.push_back(std::move(key));
  }
  return keys;
}

ExprPtr Binder::bind_column_ref(const PgQuery__ColumnRef& ref, const Scope& scope) {
  std::vector<std::string> fields;
  bool star = false;
  for (std::size_t i = 0; i < ref.n_fields; ++i) {
    if (ref.fields[i]->node_case == PG_QUERY__NODE__NODE_A_STAR)
      star = true;
    else
      fields.push_back(node_string(ref.fields[i]));
  }
  if (star)
    throw unsupported_at("* in this position", ref.location, "Use * only at the top of a SELECT list.");
  const std::string column = fields.back();
  const std::string qualifier = fields.size() >= 2 ? fields[fields.size() - 2] : std::string();
  for (const Scope* level = &scope; level != nullptr; level = level->parent) {
    for (const ScopeItem& item : level->items) {
      if (!qualifier.empty() && item.alias != qualifier) continue;
      for (const ScopeColumn& candidate : item.columns) {
        if (candidate.name != column || (qualifier.empty() && candidate.hidden)) continue;
        auto expr = std::make_shared<Expr>(*candidate.expr);
        expr->location = ref.location;
        expr->outer = level != &scope;
        return expr;
      }
    }
  }
  if (fields.size() == 1) {
    for (const Scope* level = &scope; level != nullptr; level = level->parent) {
      for (const ScopeItem& item : level->items) {
        if (item.alias == column) {
          throw unsupported_at("the whole-row reference \"" + column + "\"", ref.location,
                               "Name the columns you need instead of the whole row.");
        }
      }
    }
  }
  throw unsupported_at(
      "the column reference \"" + column + "\"", ref.location,
      "The server accepted a name the compiler could not resolve; name the column explicitly.");
}

ExprPtr Binder::bind_const(const PgQuery__AConst& value) {
  auto expr = make_expr(ExprKind::Const, value.location);
  if (value.isnull) {
    expr->is_null = true;
    expr->literal = "NULL";
    expr->type.oid = engine::type_oid::kUnknown;
    return expr;
  }
  switch (value.val_case) {
    case PG_QUERY__A__CONST__VAL_IVAL:
      expr->literal = std::to_string(value.ival->ival);
      expr->type.oid = engine::type_oid::kInt4;
      break;
    case PG_QUERY__A__CONST__VAL_FVAL: {
      expr->literal = value.fval->fval;
      const bool integral = expr->literal.find_first_of(".eE") == std::string::npos;
      expr->type.oid = engine::type_oid::kNumeric;
      if (integral && expr->literal.size() <= 19) {
        try {
          (void)std::stoll(expr->literal);
          expr->type.oid = engine::type_oid::kInt8;
        } catch (const std::out_of_range&) {
          expr->type.oid = engine::type_oid::kNumeric;
        }
      }
      break;
    }
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
      expr->literal = value.boolval->boolval ? "true" : "false";
      expr->type.oid = engine::type_oid::kBool;
      break;
    case PG_QUERY__A__CONST__VAL_SVAL:
      expr->literal = catalog_.connection().quote_literal(value.sval->sval);
      expr->type.oid = engine::type_oid::kUnknown;
      break;
    case PG_QUERY__A__CONST__VAL_BSVAL: {
      const std::string bits = value.bsval->bsval;
      expr->literal =
          std::string(1, static_cast<char>(std::toupper(static_cast<unsigned char>(bits.at(0))))) +
          catalog_.connection().quote_literal(bits.substr(1));
      expr->type.oid = engine::type_oid::kBit;
      break;
    }
    default: throw unsupported_at("this constant", value.location);
  }
  return expr;
}

std::string Binder::type_name_sql(const PgQuery__TypeName& type) {
  if (type.pct_type) throw unsupported_at("%TYPE", type.location, "Name the type.");
  std::string sql;
  for (std::size_t i = 0; i < type.n_names; ++i) {
    if (!sql.empty()) sql += ".";
    sql += catalog_.connection().quote_identifier(node_string(type.names[i]));
  }
  if (type.n_typmods > 0) {
    sql += "(";
    for (std::size_t i = 0; i < type.n_typmods; ++i) {
      const PgQuery__Node* mod = type.typmods[i];
      if (mod->node_case != PG_QUERY__NODE__NODE_A_CONST)
        throw unsupported_at("this type modifier", type.location);
      if (i > 0) sql += ", ";
      sql += bind_const(*mod->a_const)->literal;
    }
    sql += ")";
  }
  for (std::size_t i = 0; i < type.n_array_bounds; ++i) sql += "[]";
  return sql;
}

ExprPtr Binder::bind_type_cast(const PgQuery__TypeCast& cast, const Scope& scope, CteScope* ctes) {
  auto expr = make_expr(ExprKind::Cast, cast.location);
  expr->args.push_back(bind_expr(*cast.arg, scope, ctes));
  expr->name = type_name_sql(*cast.type_name);
  return expr;
}

ExprPtr Binder::bind_case(const PgQuery__CaseExpr& node, const Scope& scope, CteScope* ctes) {
  auto expr = make_expr(ExprKind::Case, node.location);
  expr->negated = node.arg != nullptr;  // "has a test argument"
  if (node.arg != nullptr) expr->args.push_back(bind_expr(*node.arg, scope, ctes));
  for (std::size_t i = 0; i < node.n_args; ++i) {
    const PgQuery__CaseWhen& when = *node.args[i]->case_when;
    expr->args.push_back(bind_expr(*when.expr, scope, ctes));
    expr->args.push_back(bind_expr(*when.result, scope, ctes));
  }
  expr->test = node.defresult != nullptr ? 1 : 0;  // "has ELSE"
  if (node.defresult != nullptr) expr->args.push_back(bind_expr(*node.defresult, scope, ctes));
  return expr;
}

ExprPtr Binder::bind_indirection(const PgQuery__AIndirection& node, const Scope& scope, CteScope* ctes) {
  ExprPtr current = bind_expr(*node.arg, scope, ctes);
  for (std::size_t i = 0; i < node.n_indirection; ++i) {
    const PgQuery__Node& step = *node.indirection[i];
    if (step.node_case == PG_QUERY__NODE__NODE_STRING) {
      auto field = make_expr(ExprKind::FieldSelect, node_location(*node.arg));
      field->name = step.string->sval;
      field->args.push_back(current);
      current = field;
    } else if (step.node_case == PG_QUERY__NODE__NODE_A_INDICES) {
      const PgQuery__AIndices& indices = *step.a_indices;
      auto subscript = make_expr(ExprKind::Subscript, node_location(*node.arg));
      subscript->all = indices.is_slice;
      subscript->args.push_back(current);
      if (indices.is_slice)
        subscript->args.push_back(indices.lidx != nullptr ? bind_expr(*indices.lidx, scope, ctes) : nullptr);
      subscript->args.push_back(indices.uidx != nullptr ? bind_expr(*indices.uidx, scope, ctes) : nullptr);
      current = subscript;
    } else {
      throw unsupported_at("this indirection (.*)", node_location(*node.arg), "Name the fields you need.");
    }
  }
  return current;
}

ExprPtr Binder::make_operator(const std::string& name, ExprPtr left, ExprPtr right, int location) {
  auto expr = make_expr(ExprKind::Operator, location);
  expr->name = name;
  if (left) expr->args.push_back(std::move(left));
  expr->args.push_back(std::move(right));
  return expr;
}

ExprPtr Binder::bind_a_expr(const PgQuery__AExpr& node, const Scope& scope, CteScope* ctes) {
  std::string op;
  for (std::size_t i = 0; i < node.n_name; ++i) {
    if (!op.empty()) op += ".";
    op += node_string(node.name[i]);
  }
  auto bind = [&](const PgQuery__Node* n) { return n != nullptr ? bind_expr(*n, scope, ctes) : nullptr; };
  switch (node.kind) {
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP:
    case PG_QUERY__A__EXPR__KIND__AEXPR_LIKE:
    case PG_QUERY__A__EXPR__KIND__AEXPR_ILIKE:
    case PG_QUERY__A__EXPR__KIND__AEXPR_SIMILAR:
      return make_operator(op, bind(node.lexpr), bind(node.rexpr), node.location);
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ANY:
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ALL: {
      auto expr = make_expr(ExprKind::ArrayOp, node.location);
      expr->name = op;
      expr->all = node.kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP_ALL;
      expr->args = {bind(node.lexpr), bind(node.rexpr)};
      return expr;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_DISTINCT:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_DISTINCT: {
      auto expr = make_expr(ExprKind::Distinct, node.location);
      expr->negated = node.kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_DISTINCT;
      expr->args = {bind(node.lexpr), bind(node.rexpr)};
      return expr;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF: {
      auto expr = make_expr(ExprKind::NullIf, node.location);
      expr->args = {bind(node.lexpr), bind(node.rexpr)};
      return expr;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_IN: {
      auto expr = make_expr(ExprKind::InList, node.location);
      expr->negated = op == "<>";
      expr->args.push_back(bind(node.lexpr));
      const PgQuery__List& list = *node.rexpr->list;
      for (ExprPtr& item : bind_list(list.items, list.n_items, scope, ctes))
        expr->args.push_back(std::move(item));
      return expr;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN_SYM:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM: {
      const PgQuery__List& bounds = *node.rexpr->list;
      const bool negated = node.kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN ||
                           node.kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM;
      const bool symmetric = node.kind == PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN_SYM ||
                             node.kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM;
      auto range = [&](const PgQuery__Node* low, const PgQuery__Node* high) {
        auto both = make_expr(ExprKind::Bool, node.location);
        both->bool_op = negated ? BoolOp::Or : BoolOp::And;
        both->args.push_back(make_operator(negated ? "<" : ">=", bind(node.lexpr), bind(low), node.location));
        both->args.push_back(
            make_operator(negated ? ">" : "<=", bind(node.lexpr), bind(high), node.location));
        return both;
      };
      ExprPtr result = range(bounds.items[0], bounds.items[1]);
      if (symmetric) {
        auto either = make_expr(ExprKind::Bool, node.location);
        either->bool_op = negated ? BoolOp::And : BoolOp::Or;
        either->args = {result, range(bounds.items[1], bounds.items[0])};
        result = either;
      }
      return result;
    }
    default: throw unsupported_at("this operator form", node.location);
  }
}

ExprPtr Binder::bind_func_call(const PgQuery__FuncCall& call, const Scope& scope, CteScope* ctes) {
  std::string name;
  std::string qualified;
  for (std::size_t i = 0; i < call.n_funcname; ++i) {
    name = node_string(call.funcname[i]);
    if (!qualified.empty()) qualified += ".";
    qualified += catalog_.connection().quote_identifier(name);
  }
  for (std::size_t i = 0; i < call.n_args; ++i) {
    if (call.args[i]->node_case == PG_QUERY__NODE__NODE_NAMED_ARG_EXPR) {
      throw unsupported_at("named function arguments (name => value)", call.location,
                           "Pass arguments by position.");
    }
  }
  if (call.func_variadic) throw unsupported_at("VARIADIC arguments", call.location);
  ExprKind kind = ExprKind::Function;
  if (call.over != nullptr)
    kind = ExprKind::Window;
  else if (call.agg_star || call.agg_distinct || call.agg_filter != nullptr || call.n_agg_order > 0)
    kind = ExprKind::Aggregate;
  auto expr = make_expr(kind, call.location);
  expr->name = name;
  expr->literal = qualified;  // the name as SQL, for probes
  expr->args = bind_list(call.args, call.n_args, scope, ctes);
  expr->agg_star = call.agg_star;
  expr->agg_distinct = call.agg_distinct;
  expr->within_group = call.agg_within_group;
  if (call.agg_filter != nullptr) expr->filter = bind_expr(*call.agg_filter, scope, ctes);
  expr->order_by = bind_sort(call.agg_order, call.n_agg_order, scope, ctes);
  if (call.over != nullptr) expr->window = bind_window(*call.over, call.location, scope, ctes);
  return expr;
}

std::shared_ptr<WindowSpec> Binder::bind_window(const PgQuery__WindowDef& def, int location,
                                                const Scope& scope, CteScope* ctes) {
  const bool copies = def.name != nullptr && def.name[0] != '\0';  // OVER w
  const std::string ref = def.refname != nullptr && def.refname[0] != '\0' ? def.refname
                          : copies                                         ? def.name
                                                                           : "";
  const PgQuery__WindowDef* base = nullptr;
  for (std::size_t i = 0; !ref.empty() && window_block_ != nullptr && i < window_block_->n_window_clause;
       ++i) {
    const PgQuery__WindowDef* named = window_block_->window_clause[i]->window_def;
    if (named->name != nullptr && ref == named->name) base = named;
  }
  if (!ref.empty() && base == nullptr) throw unsupported_at("the window reference \"" + ref + "\"", location);
  if (base != nullptr && base->refname != nullptr && base->refname[0] != '\0') {
    throw unsupported_at("a named window that refers to another window", location,
                         "Write the window in full.");
  }
  const PgQuery__WindowDef& partition = base != nullptr ? *base : def;
  const PgQuery__WindowDef& order = def.n_order_clause > 0 || base == nullptr ? def : *base;
  const PgQuery__WindowDef& frame = copies ? *base : def;
  auto spec = std::make_shared<WindowSpec>();
  spec->partition_by = bind_list(partition.partition_clause, partition.n_partition_clause, scope, ctes);
  spec->order_by = bind_sort(order.order_clause, order.n_order_clause, scope, ctes);
  spec->frame_options = frame.frame_options;
  if (frame.start_offset != nullptr) spec->frame_start = bind_expr(*frame.start_offset, scope, ctes);
  if (frame.end_offset != nullptr) spec->frame_end = bind_expr(*frame.end_offset, scope, ctes);
  return spec;
}

ExprPtr Binder::bind_sublink(const PgQuery__SubLink& link, const Scope& scope, CteScope* ctes) {
  auto expr = make_expr(ExprKind::Subquery, link.location);
  switch (link.sub_link_type) {
    case PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK: expr->subquery_kind = SubqueryKind::Exists; break;
    case PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK: expr->subquery_kind = SubqueryKind::Any; break;
    case PG_QUERY__SUB_LINK_TYPE__ALL_SUBLINK: expr->subquery_kind = SubqueryKind::All; break;
    case PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK: expr->subquery_kind = SubqueryKind::Scalar; break;
    case PG_QUERY__SUB_LINK_TYPE__ARRAY_SUBLINK: expr->subquery_kind = SubqueryKind::Array; break;
    default: throw unsupported_at("this kind of subquery", link.location);
  }
  expr->all = expr->subquery_kind == SubqueryKind::All;
  expr->name = "=";
  if (link.n_oper_name > 0) expr->name = node_string(link.oper_name[link.n_oper_name - 1]);
  if (link.testexpr != nullptr) expr->args.push_back(bind_expr(*link.testexpr, scope, ctes));
  keep_order_ = expr->subquery_kind == SubqueryKind::Array;
  expr->subplan = bind_query_node(*link.subselect, &scope, ctes);
  keep_order_ = false;
  expr->correlated = !free_bindings(*expr->subplan).empty();
  return expr;
}

ExprPtr Binder::bind_expr(const PgQuery__Node& node, const Scope& scope, CteScope* ctes) {
  ExprPtr expr;
  switch (node.node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF: return bind_column_ref(*node.column_ref, scope);
    case PG_QUERY__NODE__NODE_A_CONST: expr = bind_const(*node.a_const); break;
    case PG_QUERY__NODE__NODE_A_EXPR: expr = bind_a_expr(*node.a_expr, scope, ctes); break;
    case PG_QUERY__NODE__NODE_FUNC_CALL: expr = bind_func_call(*node.func_call, scope, ctes); break;
    case PG_QUERY__NODE__NODE_TYPE_CAST: expr = bind_type_cast(*node.type_cast, scope, ctes); break;
    case PG_QUERY__NODE__NODE_SUB_LINK: expr = bind_sublink(*node.sub_link, scope, ctes); break;
    case PG_QUERY__NODE__NODE_CASE_EXPR: expr = bind_case(*node.case_expr, scope, ctes); break;
    case PG_QUERY__NODE__NODE_A_INDIRECTION: expr = bind_indirection(*node.a_indirection, scope, ctes); break;
    case PG_QUERY__NODE__NODE_BOOL_EXPR: {
      const PgQuery__BoolExpr& b = *node.bool_expr;
      expr = make_expr(ExprKind::Bool, b.location);
      expr->bool_op = b.boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR  ? BoolOp::And
                      : b.boolop == PG_QUERY__BOOL_EXPR_TYPE__OR_EXPR ? BoolOp::Or
                                                                      : BoolOp::Not;
      expr->args = bind_list(b.args, b.n_args, scope, ctes);
      break;
    }
    case PG_QUERY__NODE__NODE_NULL_TEST: {
      expr = make_expr(ExprKind::NullTest, node.null_test->location);
      expr->negated = node.null_test->nulltesttype == PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL;
      expr->args.push_back(bind_expr(*node.null_test->arg, scope, ctes));
      break;
    }
    case PG_QUERY__NODE__NODE_BOOLEAN_TEST: {
      const PgQuery__BooleanTest& t = *node.boolean_test;
      expr = make_expr(ExprKind::BoolTest, t.location);
      const int code = static_cast<int>(t.booltesttype);  // 1..6: IS TRUE, IS NOT TRUE, IS FALSE, ...
      expr->test = (code + 1) / 2;
      expr->negated = code % 2 == 0;
      expr->args.push_back(bind_expr(*t.arg, scope, ctes));
      break;
    }
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
      expr = make_expr(ExprKind::Coalesce, node.coalesce_expr->location);
      expr->args = bind_list(node.coalesce_expr->args, node.coalesce_expr->n_args, scope, ctes);
      break;
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR:
      expr = make_expr(ExprKind::MinMax, node.min_max_expr->location);
      expr->test = node.min_max_expr->op == PG_QUERY__MIN_MAX_OP__IS_GREATEST ? 1 : 2;
      expr->args = bind_list(node.min_max_expr->args, node.min_max_expr->n_args, scope, ctes);
      break;
    case PG_QUERY__NODE__NODE_A_ARRAY_EXPR:
      expr = make_expr(ExprKind::Array, node.a_array_expr->location);
      expr->args = bind_list(node.a_array_expr->elements, node.a_array_expr->n_elements, scope, ctes);
      break;
    case PG_QUERY__NODE__NODE_ROW_EXPR:
      expr = make_expr(ExprKind::Row, node.row_expr->location);
      expr->args = bind_list(node.row_expr->args, node.row_expr->n_args, scope, ctes);
      break;
    case PG_QUERY__NODE__NODE_COLLATE_CLAUSE: {
      const PgQuery__CollateClause& c = *node.collate_clause;
      expr = make_expr(ExprKind::Collate, c.location);
      for (std::size_t i = 0; i < c.n_collname; ++i) {
        if (!expr->name.empty()) expr->name += ".";
        expr->name += catalog_.connection().quote_identifier(node_string(c.collname[i]));
      }
      expr->args.push_back(bind_expr(*c.arg, scope, ctes));
      break;
    }
    case PG_QUERY__NODE__NODE_GROUPING_FUNC:
      expr = make_expr(ExprKind::Grouping, node.grouping_func->location);
      expr->args = bind_list(node.grouping_func->args, node.grouping_func->n_args, scope, ctes);
      break;
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION:
      throw unsupported_at(
          "the STABLE SQL value function (CURRENT_DATE, CURRENT_TIMESTAMP, CURRENT_USER, ...)",
          node.sqlvalue_function->location,
          "Its value changes without any change to the data; use refresh_mode: FULL.");
    case PG_QUERY__NODE__NODE_PARAM_REF:
      throw unsupported_at("a parameter ($n)", node.param_ref->location, "Write the value into the query.");
    default: throw unsupported_at("this expression", node_location(node));
  }
  type_expr(expr);
  return expr;
}

}  // namespace pgstream::sql
