#include "pgstream/sql/logical_plan.hpp"

#include <algorithm>
#include <iterator>
#include <set>

namespace pgstream::sql {

namespace {

void append_sort_keys(const std::vector<SortKey>& keys, std::vector<ExprPtr>& out) {
  for (const SortKey& key : keys) out.push_back(key.expr);
}

bool same_sort_keys(const std::vector<SortKey>& a, const std::vector<SortKey>& b);

bool same_args(const std::vector<ExprPtr>& a, const std::vector<ExprPtr>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!a[i] || !b[i]) {
      if (a[i] != b[i]) return false;
      continue;
    }
    if (!same_expr(*a[i], *b[i])) return false;
  }
  return true;
}

bool same_optional(const ExprPtr& a, const ExprPtr& b) {
  if (!a || !b) return a == b;
  return same_expr(*a, *b);
}

bool same_sort_keys(const std::vector<SortKey>& a, const std::vector<SortKey>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].descending != b[i].descending || a[i].nulls_first != b[i].nulls_first) return false;
    if (!same_optional(a[i].expr, b[i].expr)) return false;
  }
  return true;
}

bool same_window(const std::shared_ptr<WindowSpec>& a, const std::shared_ptr<WindowSpec>& b) {
  if (!a || !b) return a == b;
  return same_args(a->partition_by, b->partition_by) && same_sort_keys(a->order_by, b->order_by) &&
         a->frame_options == b->frame_options && same_optional(a->frame_start, b->frame_start) &&
         same_optional(a->frame_end, b->frame_end);
}

}  // namespace

std::vector<ExprPtr> node_exprs(const PlanNode& node) {
  std::vector<ExprPtr> out;
  if (node.predicate) out.push_back(node.predicate);
  out.insert(out.end(), node.exprs.begin(), node.exprs.end());
  for (const auto& row : node.rows) out.insert(out.end(), row.begin(), row.end());
  out.insert(out.end(), node.group_keys.begin(), node.group_keys.end());
  out.insert(out.end(), node.aggregates.begin(), node.aggregates.end());
  out.insert(out.end(), node.window_functions.begin(), node.window_functions.end());
  out.insert(out.end(), node.distinct_on.begin(), node.distinct_on.end());
  append_sort_keys(node.sort_keys, out);
  return out;
}

bool same_expr(const Expr& a, const Expr& b) {
  if (a.kind != b.kind || a.type != b.type || a.name != b.name) return false;
  if (a.kind == ExprKind::Column) return a.binding == b.binding;
  if (a.kind == ExprKind::Const) return a.literal == b.literal && a.is_null == b.is_null;
  if (a.kind == ExprKind::Subquery) return a.subplan == b.subplan && same_args(a.args, b.args);
  return a.function_oid == b.function_oid && a.operator_oid == b.operator_oid && a.bool_op == b.bool_op &&
         a.negated == b.negated && a.test == b.test && a.all == b.all && a.agg_star == b.agg_star &&
         a.agg_distinct == b.agg_distinct && same_args(a.args, b.args) && same_optional(a.filter, b.filter) &&
         same_sort_keys(a.order_by, b.order_by) && same_window(a.window, b.window);
}

namespace {

void plan_bindings(const PlanNode& node, std::set<ColumnBinding>& produced, std::set<ColumnBinding>& used) {
  for (const OutputColumn& column : node.output) produced.insert(column.binding);
  for (const ExprPtr& expr : node_exprs(node)) {
    walk_expr(expr, [&](const ExprPtr& e) {
      if (e->kind == ExprKind::Column) used.insert(e->binding);
      if (e->kind == ExprKind::Subquery && e->subplan) plan_bindings(*e->subplan, produced, used);
    });
  }
  for (const PlanPtr& input : node.inputs) plan_bindings(*input, produced, used);
}

}  // namespace

std::vector<ColumnBinding> free_bindings(const PlanNode& node) {
  std::set<ColumnBinding> produced;
  std::set<ColumnBinding> used;
  plan_bindings(node, produced, used);
  std::vector<ColumnBinding> out;
  std::set_difference(used.begin(), used.end(), produced.begin(), produced.end(), std::back_inserter(out));
  return out;
}

void collect_bindings(const ExprPtr& expr, std::vector<ColumnBinding>& out) {
  walk_expr(expr, [&](const ExprPtr& e) {
    if (e->kind == ExprKind::Column) out.push_back(e->binding);
    if (e->kind == ExprKind::Subquery && e->subplan) {
      for (const ColumnBinding& binding : free_bindings(*e->subplan)) out.push_back(binding);
    }
  });
}

const char* to_string(PlanKind kind) noexcept {
  switch (kind) {
    case PlanKind::Scan: return "Scan";
    case PlanKind::Values: return "Values";
    case PlanKind::FunctionScan: return "FunctionScan";
    case PlanKind::Filter: return "Filter";
    case PlanKind::Project: return "Project";
    case PlanKind::Join: return "Join";
    case PlanKind::Aggregate: return "Aggregate";
    case PlanKind::Window: return "Window";
    case PlanKind::Distinct: return "Distinct";
    case PlanKind::SetOp: return "SetOp";
    case PlanKind::TopK: return "TopK";
    case PlanKind::RecursiveUnion: return "RecursiveUnion";
    case PlanKind::WorkTableScan: return "WorkTableScan";
  }
  return "?";
}

const char* to_string(JoinType type) noexcept {
  switch (type) {
    case JoinType::Inner: return "inner";
    case JoinType::Left: return "left";
    case JoinType::Right: return "right";
    case JoinType::Full: return "full";
    case JoinType::Semi: return "semi";
    case JoinType::Anti: return "anti";
  }
  return "?";
}

}  // namespace pgstream::sql
