#include "pgstream/sql/explain.hpp"

#include <map>
#include <sstream>

namespace pgstream::sql {

namespace {

std::string list(const std::vector<ExprPtr>& exprs, const char* separator = ", ") {
  std::string out;
  for (std::size_t i = 0; i < exprs.size(); ++i) {
    if (i > 0) out += separator;
    out += exprs[i] ? explain_expr(*exprs[i]) : "NULL";
  }
  return out;
}

std::string sort_list(const std::vector<SortKey>& keys) {
  std::string out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i > 0) out += ", ";
    out += explain_expr(*keys[i].expr);
    if (keys[i].descending) out += " DESC";
    if (keys[i].nulls_first != keys[i].descending)
      out += keys[i].nulls_first ? " NULLS FIRST" : " NULLS LAST";
  }
  return out;
}

std::string call(const Expr& expr) {
  std::string out = expr.name + "(";
  if (expr.agg_star) out += "*";
  if (expr.agg_distinct) out += "DISTINCT ";
  out += list(expr.args);
  if (!expr.order_by.empty() && !expr.within_group) out += " ORDER BY " + sort_list(expr.order_by);
  out += ")";
  if (expr.within_group) out += " WITHIN GROUP (ORDER BY " + sort_list(expr.order_by) + ")";
  if (expr.filter) out += " FILTER (WHERE " + explain_expr(*expr.filter) + ")";
  if (expr.kind != ExprKind::Aggregate && expr.kind != ExprKind::Window &&
      expr.evaluation == Evaluation::Server) {
    out += "{server}";
  }
  return out;
}

const char* subquery_word(SubqueryKind kind) {
  switch (kind) {
    case SubqueryKind::Exists: return "EXISTS";
    case SubqueryKind::Any: return "ANY";
    case SubqueryKind::All: return "ALL";
    case SubqueryKind::Scalar: return "SCALAR";
    case SubqueryKind::Array: return "ARRAY";
  }
  return "?";
}

// PostgreSQL's FRAMEOPTION_* bits (nodes/parsenodes.h).
enum FrameOption : int {
  kNonDefault = 0x1,
  kRange = 0x2,
  kRows = 0x4,
  kGroups = 0x8,
  kStartUnboundedPreceding = 0x20,
  kEndUnboundedFollowing = 0x100,
  kStartCurrentRow = 0x200,
  kEndCurrentRow = 0x400,
  kStartOffsetPreceding = 0x800,
  kEndOffsetPreceding = 0x1000,
  kStartOffsetFollowing = 0x2000,
  kEndOffsetFollowing = 0x4000,
};

std::string frame_bound(int options, bool start, const ExprPtr& offset) {
  const std::string value = offset ? explain_expr(*offset) : std::string("?");
  if ((options & (start ? kStartUnboundedPreceding : 0)) != 0) return "UNBOUNDED PRECEDING";
  if (!start && (options & kEndUnboundedFollowing) != 0) return "UNBOUNDED FOLLOWING";
  if ((options & (start ? kStartCurrentRow : kEndCurrentRow)) != 0) return "CURRENT ROW";
  if ((options & (start ? kStartOffsetPreceding : kEndOffsetPreceding)) != 0) return value + " PRECEDING";
  if ((options & (start ? kStartOffsetFollowing : kEndOffsetFollowing)) != 0) return value + " FOLLOWING";
  return start ? "UNBOUNDED PRECEDING" : "CURRENT ROW";
}

std::string frame(const WindowSpec& spec) {
  const int options = spec.frame_options;
  if ((options & kNonDefault) == 0) return "";
  const char* unit = (options & kRows) != 0 ? "ROWS" : (options & kGroups) != 0 ? "GROUPS" : "RANGE";
  return std::string(" frame=") + unit + " BETWEEN " + frame_bound(options, true, spec.frame_start) +
         " AND " + frame_bound(options, false, spec.frame_end);
}

std::string columns(const std::vector<OutputColumn>& output) {
  std::string out = "[";
  for (std::size_t i = 0; i < output.size(); ++i) out += (i > 0 ? ", " : "") + output[i].name;
  return out + "]";
}

std::string attnums(const SourceRelation& relation, const std::vector<std::int16_t>& key) {
  std::string out = "(";
  for (std::size_t i = 0; i < key.size(); ++i) {
    out += i > 0 ? ", " : "";
    for (const RelationColumn& column : relation.columns) {
      if (column.attnum == key[i]) out += column.name;
    }
  }
  return out + ")";
}

class Printer {
 public:
  void print(const PlanPtr& node, int depth) {
    const std::string indent(static_cast<std::size_t>(depth) * 2, ' ');
    if (auto found = shared_ids_.find(node.get()); found != shared_ids_.end() && found->second > 0) {
      out_ << indent << "-> shared #" << found->second << " (" << node->alias << ")\n";
      return;
    }
    out_ << indent << headline(*node);
    if (parents_[node.get()] > 1) {
      shared_ids_[node.get()] = ++next_shared_;
      out_ << "  [shared #" << next_shared_ << "]";
    }
    out_ << "\n";
    for (const ExprPtr& expr : node_exprs(*node)) {
      walk_expr(expr, [&](const ExprPtr& e) {
        if (e->kind == ExprKind::Subquery && e->subplan) {
          out_ << indent << "  subplan " << subquery_word(e->subquery_kind)
               << (e->correlated ? " (correlated)" : "") << ":\n";
          print(e->subplan, depth + 2);
        }
      });
    }
    for (const PlanPtr& input : node->inputs) print(input, depth + 1);
  }

  void count(const PlanPtr& node) {
    if (++parents_[node.get()] > 1) return;
    for (const PlanPtr& input : node->inputs) count(input);
  }

  [[nodiscard]] std::string text() const { return out_.str(); }

 private:
  static std::string headline(const PlanNode& node) {
    switch (node.kind) {
      case PlanKind::Scan: {
        const SourceRelation& r = *node.relation;
        std::string line =
            std::string(r.is_stream_table ? "StreamTableScan " : "Scan ") + r.schema + "." + r.name;
        if (node.alias != r.name) line += " AS " + node.alias;
        line += " " + columns(node.output);
        if (r.relkind == 'p') line += " partitioned";
        if (!r.primary_key.empty())
          line += " key=" + attnums(r, r.primary_key);
        else if (r.replica_identity == 'f')
          line += " replica identity full";
        else
          line += " keyless";
        return line;
      }
      case PlanKind::Values: {
        std::string line = "Values " + columns(node.output);
        if (node.output.empty()) return line + " (one empty row)";
        for (std::size_t r = 0; r < node.rows.size() && r < 4; ++r)
          line += (r > 0 ? ", (" : " (") + list(node.rows[r]) + ")";
        if (node.rows.size() > 4) line += ", ... (" + std::to_string(node.rows.size()) + " rows)";
        return line;
      }
      case PlanKind::FunctionScan:
        return std::string("FunctionScan ") + (node.lateral ? "lateral " : "") + list(node.exprs) +
               (node.with_ordinality ? " WITH ORDINALITY " : " ") + columns(node.output);
      case PlanKind::Filter: return "Filter " + explain_expr(*node.predicate);
      case PlanKind::Project: {
        std::string line = "Project";
        for (std::size_t i = 0; i < node.exprs.size(); ++i) {
          const std::string value = explain_expr(*node.exprs[i]);
          const std::string& name = node.output[i].name;
          const std::string suffix = "." + name;
          const bool same =
              value == name || (value.size() > suffix.size() &&
                                value.compare(value.size() - suffix.size(), suffix.size(), suffix) == 0);
          line += i > 0 ? ", " : " ";
          line += value;
          if (!same) line += " AS " + name;
        }
        return line;
      }
      case PlanKind::Join: {
        std::string line = std::string("Join ") + to_string(node.join_type);
        if (node.null_aware) line += " (null-aware)";
        if (node.lateral) line += " lateral";
        return line + (node.predicate ? " on " + explain_expr(*node.predicate) : std::string(" (cross)"));
      }
      case PlanKind::Aggregate: {
        std::string line =
            "Aggregate keys=[" + list(node.group_keys) + "] aggs=[" + list(node.aggregates) + "]";
        if (!node.grouping_sets.empty()) {
          line += " sets=";
          for (const auto& set : node.grouping_sets) {
            line += "(";
            for (std::size_t i = 0; i < set.size(); ++i) line += (i > 0 ? "," : "") + std::to_string(set[i]);
            line += ")";
          }
        }
        return line;
      }
      case PlanKind::Window: {
        const WindowSpec& spec = *node.window_functions.front()->window;
        return "Window partition=[" + list(spec.partition_by) + "] order=[" + sort_list(spec.order_by) + "]" +
               frame(spec) + " " + list(node.window_functions);
      }
      case PlanKind::Distinct:
        if (node.distinct_on.empty()) return "Distinct";
        return "Distinct on=[" + list(node.distinct_on) + "] order=[" + sort_list(node.sort_keys) + "]";
      case PlanKind::SetOp: {
        const char* op = node.set_op == SetOpKind::Union       ? "Union"
                         : node.set_op == SetOpKind::Intersect ? "Intersect"
                                                               : "Except";
        return std::string("SetOp ") + op + (node.all ? " all " : " ") + columns(node.output);
      }
      case PlanKind::TopK:
        return "TopK order=[" + sort_list(node.sort_keys) +
               "] limit=" + (node.limit ? std::to_string(*node.limit) : std::string("all")) +
               " offset=" + std::to_string(node.offset) + (node.with_ties ? " with ties" : "");
      case PlanKind::RecursiveUnion:
        return std::string("RecursiveUnion ") + node.alias + (node.all ? " all " : " ") +
               columns(node.output);
      case PlanKind::WorkTableScan: return "WorkTableScan " + node.alias + " " + columns(node.output);
    }
    return "?";
  }

  std::ostringstream out_;
  std::map<const PlanNode*, int> parents_;
  std::map<const PlanNode*, int> shared_ids_;
  int next_shared_ = 0;
};

}  // namespace

std::string explain_expr(const Expr& expr) {
  switch (expr.kind) {
    case ExprKind::Column: return expr.literal.empty() ? expr.name : expr.literal + "." + expr.name;
    case ExprKind::Const: return expr.literal;
    case ExprKind::Function:
    case ExprKind::Aggregate: return call(expr);
    case ExprKind::Window: return call(expr) + " OVER (...)";
    case ExprKind::Grouping: return "GROUPING(" + list(expr.args) + ")";
    case ExprKind::Operator: {
      const std::string op = expr.evaluation == Evaluation::Server ? expr.name + "{server}" : expr.name;
      if (expr.args.size() == 1) return "(" + op + " " + explain_expr(*expr.args[0]) + ")";
      return "(" + explain_expr(*expr.args[0]) + " " + op + " " + explain_expr(*expr.args[1]) + ")";
    }
    case ExprKind::Bool:
      if (expr.bool_op == BoolOp::Not) return "(NOT " + explain_expr(*expr.args[0]) + ")";
      return "(" + list(expr.args, expr.bool_op == BoolOp::And ? " AND " : " OR ") + ")";
    case ExprKind::NullTest:
      return "(" + explain_expr(*expr.args[0]) + (expr.negated ? " IS NOT NULL)" : " IS NULL)");
    case ExprKind::BoolTest: {
      const char* value = expr.test == 1 ? "TRUE" : expr.test == 2 ? "FALSE" : "UNKNOWN";
      return "(" + explain_expr(*expr.args[0]) + (expr.negated ? " IS NOT " : " IS ") + value + ")";
    }
    case ExprKind::Case: return "CASE(" + list(expr.args) + ")";
    case ExprKind::Coalesce: return "COALESCE(" + list(expr.args) + ")";
    case ExprKind::NullIf: return "NULLIF(" + list(expr.args) + ")";
    case ExprKind::MinMax:
      return std::string(expr.test == 1 ? "GREATEST(" : "LEAST(") + list(expr.args) + ")";
    case ExprKind::Cast:
      return "CAST(" + explain_expr(*expr.args[0]) + " AS " + expr.name + ")" +
             (expr.evaluation == Evaluation::Server ? "{server}" : "");
    case ExprKind::Collate: return "(" + explain_expr(*expr.args[0]) + " COLLATE " + expr.name + ")";
    case ExprKind::Array: return "ARRAY[" + list(expr.args) + "]";
    case ExprKind::Row: return "ROW(" + list(expr.args) + ")";
    case ExprKind::Subscript: return explain_expr(*expr.args[0]) + "[...]";
    case ExprKind::FieldSelect: return "(" + explain_expr(*expr.args[0]) + ")." + expr.name;
    case ExprKind::ArrayOp:
      return "(" + explain_expr(*expr.args[0]) + " " + expr.name + (expr.all ? " ALL(" : " ANY(") +
             explain_expr(*expr.args[1]) + "))";
    case ExprKind::Distinct:
      return "(" + explain_expr(*expr.args[0]) +
             (expr.negated ? " IS NOT DISTINCT FROM " : " IS DISTINCT FROM ") + explain_expr(*expr.args[1]) +
             ")";
    case ExprKind::InList: {
      std::vector<ExprPtr> items(expr.args.begin() + 1, expr.args.end());
      return "(" + explain_expr(*expr.args[0]) + (expr.negated ? " NOT IN (" : " IN (") + list(items) + "))";
    }
    case ExprKind::Subquery: {
      std::string out = std::string(subquery_word(expr.subquery_kind)) + "(subplan)";
      if (!expr.args.empty()) out = explain_expr(*expr.args[0]) + " " + expr.name + " " + out;
      return out;
    }
  }
  return "?";
}

std::string explain(const LogicalPlan& plan) {
  Printer printer;
  printer.count(plan.root);
  printer.print(plan.root, 0);
  return printer.text();
}

std::string explain_lowered(const LogicalPlan& plan, const engine::Dataflow& dataflow,
                            engine::NodeId output) {
  return "plan:\n" + explain(plan) + "dataflow:\n" + dataflow.explain(output);
}

}  // namespace pgstream::sql
