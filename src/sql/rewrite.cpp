#include "pgstream/sql/rewrite.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

namespace pgstream::sql {

namespace {

using Bindings = std::set<ColumnBinding>;

void split_conjuncts(const ExprPtr& expr, std::vector<ExprPtr>& out) {
  if (expr->kind == ExprKind::Bool && expr->bool_op == BoolOp::And) {
    for (const ExprPtr& arg : expr->args) split_conjuncts(arg, out);
    return;
  }
  out.push_back(expr);
}

ExprPtr conjunction(std::vector<ExprPtr> parts) {
  if (parts.empty()) return nullptr;
  if (parts.size() == 1) return parts[0];
  auto all = std::make_shared<Expr>();
  all->kind = ExprKind::Bool;
  all->bool_op = BoolOp::And;
  all->type = {.oid = 16, .typmod = -1, .collation = 0};
  all->args = std::move(parts);
  return all;
}

Bindings outputs(const PlanNode& node) {
  Bindings out;
  for (const OutputColumn& column : node.output) out.insert(column.binding);
  return out;
}

bool reads_only(const ExprPtr& expr, const Bindings& available) {
  std::vector<ColumnBinding> used;
  collect_bindings(expr, used);
  for (const ColumnBinding& binding : used) {
    if (available.count(binding) == 0) return false;
  }
  return true;
}

// Replaces columns by the expressions that compute them.
ExprPtr substitute(const ExprPtr& expr, const std::map<ColumnBinding, ExprPtr>& values) {
  if (!expr) return expr;
  if (expr->kind == ExprKind::Column) {
    auto found = values.find(expr->binding);
    return found != values.end() ? found->second : expr;
  }
  auto copy = std::make_shared<Expr>(*expr);
  for (ExprPtr& arg : copy->args) arg = substitute(arg, values);
  copy->filter = substitute(copy->filter, values);
  return copy;
}

bool simple(const ExprPtr& expr) {
  bool ok = true;
  walk_expr(expr, [&](const ExprPtr& e) {
    ok = ok && e->kind != ExprKind::Function && e->kind != ExprKind::Aggregate &&
         e->kind != ExprKind::Window && e->kind != ExprKind::Subquery && e->kind != ExprKind::Grouping;
  });
  return ok;
}

// True if `expr` is NULL whenever every column in `side` is NULL: a column
// of the side, or a strict function, operator or cast of such a value.
bool null_when_null(const ExprPtr& expr, const Bindings& side) {
  switch (expr->kind) {
    case ExprKind::Column: return side.count(expr->binding) != 0;
    case ExprKind::Cast: return null_when_null(expr->args[0], side);
    case ExprKind::Function:
    case ExprKind::Operator:
      return expr->strict && std::any_of(expr->args.begin(), expr->args.end(), [&](const ExprPtr& arg) {
               return arg && null_when_null(arg, side);
             });
    default: return false;
  }
}

// True if the WHERE conjunct cannot be true when every column of `side` is
// NULL (PostgreSQL's "null-rejecting" test for reducing outer joins).
bool rejects_nulls(const ExprPtr& expr, const Bindings& side) {
  switch (expr->kind) {
    case ExprKind::NullTest: return expr->negated && null_when_null(expr->args[0], side);
    case ExprKind::Bool:
      if (expr->bool_op == BoolOp::And) {
        return std::any_of(expr->args.begin(), expr->args.end(),
                           [&](const ExprPtr& a) { return rejects_nulls(a, side); });
      }
      if (expr->bool_op == BoolOp::Or) {
        return std::all_of(expr->args.begin(), expr->args.end(),
                           [&](const ExprPtr& a) { return rejects_nulls(a, side); });
      }
      return false;
    default: return null_when_null(expr, side);
  }
}

PlanPtr make_filter(PlanPtr input, std::vector<ExprPtr> conjuncts) {
  if (conjuncts.empty()) return input;
  auto filter = std::make_shared<PlanNode>();
  filter->kind = PlanKind::Filter;
  filter->output = input->output;
  filter->inputs.push_back(std::move(input));
  filter->predicate = conjunction(std::move(conjuncts));
  return filter;
}

class Pushdown {
 public:
  explicit Pushdown(const PlanPtr& root) { count_parents(root); }

  PlanPtr visit(const PlanPtr& node) {
    if (auto done = visited_.find(node.get()); done != visited_.end()) return done->second;
    for (PlanPtr& input : node->inputs) input = visit(input);
    PlanPtr result = node;
    if (node->kind == PlanKind::Filter) result = push_filter(node);
    visited_[node.get()] = result;
    return result;
  }

 private:
  void count_parents(const PlanPtr& node) {
    if (++parents_[node.get()] > 1) return;
    for (const PlanPtr& input : node->inputs) count_parents(input);
  }

  [[nodiscard]] bool shared(const PlanPtr& node) const {
    auto found = parents_.find(node.get());
    return found != parents_.end() && found->second > 1;
  }

  // Pushes `conjuncts` into `input`, returning the new input.
  PlanPtr push_into(const PlanPtr& input, std::vector<ExprPtr> conjuncts) {
    if (conjuncts.empty()) return input;
    auto filter = std::static_pointer_cast<PlanNode>(make_filter(input, std::move(conjuncts)));
    parents_[filter.get()] = 1;
    return push_filter(filter);
  }

  PlanPtr push_filter(const PlanPtr& filter) {
    PlanPtr child = filter->inputs[0];
    if (shared(child)) return filter;
    std::vector<ExprPtr> conjuncts;
    split_conjuncts(filter->predicate, conjuncts);
    std::vector<ExprPtr> kept;
    switch (child->kind) {
      case PlanKind::Filter: {
        split_conjuncts(child->predicate, conjuncts);
        return push_into(child->inputs[0], conjuncts);
      }
      case PlanKind::Join: return push_join(child, conjuncts);
      case PlanKind::Project: {
        std::map<ColumnBinding, ExprPtr> values;
        for (std::size_t i = 0; i < child->output.size(); ++i)
          values[child->output[i].binding] = child->exprs[i];
        std::vector<ExprPtr> below;
        for (const ExprPtr& conjunct : conjuncts) {
          std::vector<ColumnBinding> used;
          collect_bindings(conjunct, used);
          bool ok = true;
          for (const ColumnBinding& b : used) ok = ok && (values.count(b) == 0 || simple(values[b]));
          (ok ? below : kept).push_back(ok ? substitute(conjunct, values) : conjunct);
        }
        if (below.empty()) return filter;
        child->inputs[0] = push_into(child->inputs[0], below);
        return make_filter(child, kept);
      }
      case PlanKind::Distinct: {
        if (!child->distinct_on.empty()) return filter;
        child->inputs[0] = push_into(child->inputs[0], conjuncts);
        return child;
      }
      case PlanKind::Aggregate: {
        if (!child->grouping_sets.empty()) return filter;
        std::map<ColumnBinding, ExprPtr> keys;
        for (std::size_t i = 0; i < child->group_keys.size(); ++i)
          keys[child->output[i].binding] = child->group_keys[i];
        Bindings key_bindings;
        for (const auto& [binding, expr] : keys) key_bindings.insert(binding);
        std::vector<ExprPtr> below;
        for (const ExprPtr& conjunct : conjuncts) {
          if (reads_only(conjunct, key_bindings) && !child->group_keys.empty())
            below.push_back(substitute(conjunct, keys));
          else
            kept.push_back(conjunct);
        }
        if (below.empty()) return filter;
        child->inputs[0] = push_into(child->inputs[0], below);
        return make_filter(child, kept);
      }
      default: return filter;
    }
  }

  // A WHERE conjunct that rejects the NULLs an outer join would add turns
  // that side's outer join into an inner one.
  static void reduce_outer_join(PlanNode& join, const std::vector<ExprPtr>& conjuncts, const Bindings& left,
                                const Bindings& right) {
    auto rejected = [&](const Bindings& side) {
      return std::any_of(conjuncts.begin(), conjuncts.end(),
                         [&](const ExprPtr& c) { return rejects_nulls(c, side); });
    };
    const bool no_null_left = rejected(left);
    const bool no_null_right = rejected(right);
    switch (join.join_type) {
      case JoinType::Left:
        if (no_null_right) join.join_type = JoinType::Inner;
        break;
      case JoinType::Right:
        if (no_null_left) join.join_type = JoinType::Inner;
        break;
      case JoinType::Full:
        if (no_null_left && no_null_right)
          join.join_type = JoinType::Inner;
        else if (no_null_right)
          join.join_type = JoinType::Right;
        else if (no_null_left)
          join.join_type = JoinType::Left;
        break;
      default: break;
    }
  }

  PlanPtr push_join(const PlanPtr& join, const std::vector<ExprPtr>& conjuncts) {
    const Bindings left = outputs(*join->inputs[0]);
    const Bindings right = outputs(*join->inputs[1]);
    reduce_outer_join(*join, conjuncts, left, right);
    const bool left_ok = join->join_type != JoinType::Right && join->join_type != JoinType::Full;
    const bool right_ok = join->join_type == JoinType::Inner || join->join_type == JoinType::Right;
    std::vector<ExprPtr> to_left;
    std::vector<ExprPtr> to_right;
    std::vector<ExprPtr> to_condition;
    std::vector<ExprPtr> kept;
    for (const ExprPtr& conjunct : conjuncts) {
      if (left_ok && reads_only(conjunct, left))
        to_left.push_back(conjunct);
      else if (right_ok && reads_only(conjunct, right))
        to_right.push_back(conjunct);
      else if (join->join_type == JoinType::Inner)
        to_condition.push_back(conjunct);
      else
        kept.push_back(conjunct);
    }
    if (!shared(join->inputs[0]))
      join->inputs[0] = push_into(join->inputs[0], to_left);
    else
      kept.insert(kept.end(), to_left.begin(), to_left.end());
    if (!shared(join->inputs[1]))
      join->inputs[1] = push_into(join->inputs[1], to_right);
    else
      kept.insert(kept.end(), to_right.begin(), to_right.end());
    if (!to_condition.empty()) {
      if (join->predicate) to_condition.insert(to_condition.begin(), join->predicate);
      join->predicate = conjunction(std::move(to_condition));
    }
    return make_filter(join, kept);
  }

  std::map<const PlanNode*, int> parents_;
  std::map<const PlanNode*, PlanPtr> visited_;
};

void collect_used(const PlanNode& node, Bindings& used, std::set<const PlanNode*>& seen) {
  if (!seen.insert(&node).second) return;
  for (const ExprPtr& expr : node_exprs(node)) {
    walk_expr(expr, [&](const ExprPtr& e) {
      if (e->kind == ExprKind::Column) used.insert(e->binding);
      if (e->kind == ExprKind::Subquery && e->subplan) collect_used(*e->subplan, used, seen);
    });
  }
  // Row-shaped consumers read every column of their inputs.
  if (node.kind == PlanKind::SetOp || node.kind == PlanKind::RecursiveUnion ||
      node.kind == PlanKind::Distinct) {
    for (const PlanPtr& input : node.inputs) {
      for (const OutputColumn& column : input->output) used.insert(column.binding);
    }
  }
  for (const PlanPtr& input : node.inputs) collect_used(*input, used, seen);
}

void prune_scans(const PlanPtr& node, const Bindings& used, std::set<const PlanNode*>& seen) {
  if (!seen.insert(node.get()).second) return;
  if (node->kind == PlanKind::Scan) {
    std::vector<OutputColumn> output;
    std::vector<int> columns;
    for (std::size_t i = 0; i < node->output.size(); ++i) {
      if (used.count(node->output[i].binding) == 0) continue;
      output.push_back(node->output[i]);
      columns.push_back(node->scan_columns[i]);
    }
    node->output = std::move(output);
    node->scan_columns = std::move(columns);
  }
  for (const ExprPtr& expr : node_exprs(*node)) {
    walk_expr(expr, [&](const ExprPtr& e) {
      if (e->kind == ExprKind::Subquery && e->subplan) prune_scans(e->subplan, used, seen);
    });
  }
  for (const PlanPtr& input : node->inputs) prune_scans(input, used, seen);
}

// Pass-through nodes copy their input's output list: refresh it after pruning.
void refresh_outputs(const PlanPtr& node, std::set<const PlanNode*>& seen) {
  if (!seen.insert(node.get()).second) return;
  for (const PlanPtr& input : node->inputs) refresh_outputs(input, seen);
  switch (node->kind) {
    case PlanKind::Filter:
    case PlanKind::TopK:
    case PlanKind::Distinct: node->output = node->inputs[0]->output; break;
    case PlanKind::Join: {
      node->output = node->inputs[0]->output;
      if (node->join_type != JoinType::Semi && node->join_type != JoinType::Anti) {
        node->output.insert(node->output.end(), node->inputs[1]->output.begin(),
                            node->inputs[1]->output.end());
      }
      break;
    }
    case PlanKind::Window: {
      const std::size_t own = node->window_functions.size();
      std::vector<OutputColumn> tail(node->output.end() - static_cast<std::ptrdiff_t>(own),
                                     node->output.end());
      node->output = node->inputs[0]->output;
      node->output.insert(node->output.end(), tail.begin(), tail.end());
      break;
    }
    default: break;
  }
}

void collect_scans(const PlanNode& node, std::map<Oid, std::set<int>>& used,
                   std::map<Oid, std::shared_ptr<const SourceRelation>>& relations,
                   std::set<const PlanNode*>& seen) {
  if (!seen.insert(&node).second) return;
  if (node.kind == PlanKind::Scan) {
    relations[node.relation->oid] = node.relation;
    used[node.relation->oid].insert(node.scan_columns.begin(), node.scan_columns.end());
  }
  for (const ExprPtr& expr : node_exprs(node)) {
    walk_expr(expr, [&](const ExprPtr& e) {
      if (e->kind == ExprKind::Subquery && e->subplan) collect_scans(*e->subplan, used, relations, seen);
    });
  }
  for (const PlanPtr& input : node.inputs) collect_scans(*input, used, relations, seen);
}

}  // namespace

void collect_columns_used(LogicalPlan& plan) {
  std::map<Oid, std::set<int>> used;
  std::map<Oid, std::shared_ptr<const SourceRelation>> relations;
  std::set<const PlanNode*> seen;
  collect_scans(*plan.root, used, relations, seen);
  plan.columns_used.clear();
  for (const auto& source : plan.sources) {
    SourceColumns entry{.relation = source, .columns = {}};
    for (int index : used[source->oid])
      entry.columns.push_back(source->columns[static_cast<std::size_t>(index)].name);
    plan.columns_used.push_back(std::move(entry));
  }
}

void push_down_predicates(LogicalPlan& plan) {
  Pushdown pushdown(plan.root);
  plan.root = pushdown.visit(plan.root);
}

void prune_columns(LogicalPlan& plan) {
  Bindings used;
  for (const OutputColumn& column : plan.root->output) used.insert(column.binding);
  std::set<const PlanNode*> seen;
  collect_used(*plan.root, used, seen);
  seen.clear();
  prune_scans(plan.root, used, seen);
  seen.clear();
  refresh_outputs(plan.root, seen);
}

}  // namespace pgstream::sql
