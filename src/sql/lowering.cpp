#include "pgstream/sql/lowering.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <utility>

#include "lowering_values.hpp"
#include "pgstream/common/error.hpp"
#include "pgstream/engine/datum_io.hpp"
#include "pgstream/engine/operators/batch_map.hpp"
#include "pgstream/engine/operators/concat.hpp"
#include "pgstream/engine/operators/constant.hpp"
#include "pgstream/engine/operators/distinct.hpp"
#include "pgstream/engine/operators/flat_map.hpp"
#include "pgstream/engine/operators/iterate.hpp"
#include "pgstream/engine/operators/join.hpp"
#include "pgstream/engine/operators/map_filter.hpp"
#include "pgstream/engine/operators/reduce.hpp"
#include "pgstream/engine/operators/scalar_subquery.hpp"
#include "pgstream/engine/operators/semi_join.hpp"
#include "pgstream/engine/operators/set_operation.hpp"
#include "pgstream/engine/operators/top_k.hpp"
#include "pgstream/engine/operators/window.hpp"
#include "pgstream/sql/collation.hpp"
#include "pgstream/sql/evaluator.hpp"
#include "pgstream/sql/parse_tree.hpp"
#include "pgstream/sql/server_evaluator.hpp"

namespace pgstream::sql {
namespace {

using lowering_detail::ColumnIsTrue;
using lowering_detail::ColumnValue;
using lowering_detail::EmptyArrayIfNull;
using lowering_detail::Int4Value;
using lowering_detail::NullValue;
using lowering_detail::PositiveCount;
using lowering_detail::QuantifiedValue;
using lowering_detail::RescaleNumeric;
using lowering_detail::RowFingerprint;
using lowering_detail::RowsOf;
using lowering_detail::TrueValue;
using lowering_detail::TruthCount;
using lowering_detail::WidenToInt8;
using lowering_detail::ZeroIfNull;

using engine::DatumKind;
using engine::NodeId;
using engine::Projection;

constexpr Oid kDefaultCollation = 100;
constexpr Oid kCCollation = 950;
constexpr Oid kPosixCollation = 951;

// PostgreSQL's FRAMEOPTION_* bits (nodes/parsenodes.h).
constexpr int kFrameRows = 0x4;
constexpr int kFrameGroups = 0x8;
constexpr int kFrameStartUnboundedPreceding = 0x20;
constexpr int kFrameEndUnboundedPreceding = 0x40;
constexpr int kFrameStartUnboundedFollowing = 0x80;
constexpr int kFrameEndUnboundedFollowing = 0x100;
constexpr int kFrameStartCurrentRow = 0x200;
constexpr int kFrameEndCurrentRow = 0x400;
constexpr int kFrameStartOffsetPreceding = 0x800;
constexpr int kFrameEndOffsetPreceding = 0x1000;
constexpr int kFrameStartOffsetFollowing = 0x2000;
constexpr int kFrameEndOffsetFollowing = 0x4000;
constexpr int kFrameExcludeCurrentRow = 0x8000;
constexpr int kFrameExcludeGroup = 0x10000;
constexpr int kFrameExcludeTies = 0x20000;

// A lowered plan node: the engine node and the binding of each of its columns.
struct Lowered {
  NodeId node = 0;
  std::vector<ColumnBinding> layout;
};

bool is_integer(DatumKind kind) {
  return kind == DatumKind::Int2 || kind == DatumKind::Int4 || kind == DatumKind::Int8;
}

class Lowerer {
 public:
  Lowerer(const LogicalPlan& plan, engine::Dataflow& dataflow, const LoweringOptions& options)
      : plan_(plan), dataflow_(dataflow), options_(options) {}

  LoweredQuery run() {
    create_sources(plan_.root);
    Lowered root = lower(plan_.root);
    std::vector<ColumnBinding> want;
    for (const OutputColumn& column : plan_.root->output) want.push_back(column.binding);
    root = project_to(root, want, plan_.root->output);
    dataflow_.output(root.node);
    LoweredQuery out;
    out.output = root.node;
    for (const auto& [oid, source] : sources_) out.sources.push_back(source);
    return out;
  }

 private:
  // ---- errors --------------------------------------------------------------

  [[nodiscard]] Error not_supported(std::string_view construct, int location, std::string hint = {}) const {
    // Locations inside expanded views point into the view's text, not the user's.
    if (!plan_.views.empty()) location = -1;
    if (hint.empty()) {
      hint = "pg_stream cannot maintain this incrementally yet; use refresh_mode: FULL.";
    }
    return unsupported(plan_.original_query, construct, location, std::move(hint));
  }

  // ---- sources -------------------------------------------------------------

  void create_sources(const PlanPtr& node) {
    std::map<Oid, std::set<int>> columns;
    std::map<Oid, std::shared_ptr<const SourceRelation>> relations;
    std::set<const PlanNode*> seen;
    collect_scans(node, columns, relations, seen);
    for (const auto& [oid, used] : columns) {
      LoweredSource source;
      source.relation = relations[oid];
      source.columns.assign(used.begin(), used.end());
      std::string key = std::to_string(oid) + ":";
      for (int c : source.columns) key += std::to_string(c) + ",";
      if (options_.context != nullptr) {
        if (auto it = options_.context->sources.find(key); it != options_.context->sources.end()) {
          sources_.emplace(oid, it->second);
          continue;
        }
      }
      source.node = dataflow_.add_source(source.relation->schema + "." + source.relation->name);
      if (options_.context != nullptr) options_.context->sources.emplace(key, source);
      sources_.emplace(oid, std::move(source));
    }
  }

  void collect_scans(const PlanPtr& node, std::map<Oid, std::set<int>>& columns,
                     std::map<Oid, std::shared_ptr<const SourceRelation>>& relations,
                     std::set<const PlanNode*>& seen) {
    if (!seen.insert(node.get()).second) return;
    if (node->kind == PlanKind::Scan) {
      auto& used = columns[node->relation->oid];
      used.insert(node->scan_columns.begin(), node->scan_columns.end());
      relations[node->relation->oid] = node->relation;
    }
    for (const PlanPtr& input : node->inputs) collect_scans(input, columns, relations, seen);
    for (const ExprPtr& expr : node_exprs(*node)) {
      walk_expr(expr, [&](const ExprPtr& e) {
        if (e->subplan) collect_scans(e->subplan, columns, relations, seen);
      });
    }
  }

  // ---- helpers ---------------------------------------------------------------

  ColumnBinding synthetic() { return {-2, next_synthetic_++}; }

  static int position(const Lowered& in, const ColumnBinding& binding) {
    auto it = std::find(in.layout.begin(), in.layout.end(), binding);
    return it == in.layout.end() ? -1 : static_cast<int>(it - in.layout.begin());
  }

  [[nodiscard]] const engine::Collation& collation_for(Oid collation, int location) const {
    if (collation == 0 || collation == kCCollation || collation == kPosixCollation)
      return engine::c_collation();
    if (collation == kDefaultCollation) {
      if (options_.collation == nullptr) {
        throw not_supported("ordering text under the database's ICU collation", location);
      }
      return *options_.collation;
    }
    if (options_.server != nullptr) {
      if (const engine::Collation* c =
              collation_by_oid(options_.server->connection(), collation, options_.collation)) {
        return *c;
      }
    }
    throw not_supported("ordering text under this collation (ICU collations are not reproduced)", location,
                        "Use COLLATE \"C\", a libc collation or the database's default collation, or "
                        "refresh_mode: FULL.");
  }

  [[nodiscard]] const engine::Collation& expr_collation(const Expr& expr) const {
    return collation_for(expr.type.collation, expr.location);
  }

  // One operator orders all its text through one collation: `current`
  // takes the expression's, unless it already holds another one.
  void use_collation(const engine::Collation*& current, const Expr& expr, int location) const {
    const engine::Collation* c = &expr_collation(expr);
    if (current != nullptr && current != c) {
      throw not_supported("ordering text under two different collations in one operator", location,
                          "Give the text expressions the same COLLATE, or use refresh_mode: FULL.");
    }
    current = c;
  }

  std::shared_ptr<const engine::ScalarExpr> scalar(const Expr& expr, const Lowered& in) {
    const engine::Collation& collation =
        options_.collation != nullptr ? *options_.collation : engine::c_collation();
    NativeScalar compiled = compile_scalar(expr, in.layout, collation);
    if (!compiled.expr) throw not_supported(compiled.unsupported, expr.location);
    return compiled.expr;
  }

  // Evaluates `exprs` over `in`: column references in place, natively
  // compiled expressions as projections, and the rest by the server in one
  // BatchMap whose columns are appended to the input.
  struct Computed {
    Lowered in;
    std::vector<Projection> values;
  };
  // A copy of `e` ready to compile over `in`: column references that were
  // correlated before decorrelation are plain columns here, and each
  // uncorrelated scalar or EXISTS subquery becomes a column that a
  // ScalarSubquery operator appends to `in`.
  ExprPtr prepare(const ExprPtr& e, Lowered& in) {
    if (!e) return e;
    if (e->kind == ExprKind::Subquery && e->args.empty() &&
        (e->subquery_kind == SubqueryKind::Scalar || e->subquery_kind == SubqueryKind::Exists) &&
        free_bindings(*e->subplan).empty()) {
      return subquery_column(*e, in);
    }
    if (e->kind == ExprKind::Subquery && e->args.empty() && e->subquery_kind == SubqueryKind::Exists) {
      if (ExprPtr marked = exists_column(*e, in)) return marked;
    }
    if (e->kind == ExprKind::Subquery && !e->args.empty() &&
        (e->subquery_kind == SubqueryKind::Any || e->subquery_kind == SubqueryKind::All) &&
        free_bindings(*e->subplan).empty()) {
      return quantified_column(*e, in);
    }
    if (e->kind == ExprKind::Subquery && e->args.empty() && e->subquery_kind == SubqueryKind::Scalar) {
      if (ExprPtr value = correlated_aggregate_column(*e, in)) return value;
    }
    if (e->kind == ExprKind::Subquery && e->args.empty() && e->subquery_kind == SubqueryKind::Array) {
      if (ExprPtr value = array_column(*e, in)) return value;
    }
    bool changed = e->kind == ExprKind::Column && e->outer;
    std::vector<ExprPtr> args;
    for (const ExprPtr& arg : e->args) {
      args.push_back(prepare(arg, in));
      changed = changed || args.back() != arg;
    }
    if (!changed) return e;
    auto copy = std::make_shared<Expr>(*e);
    copy->outer = false;
    copy->args = std::move(args);
    return copy;
  }

  // A column reference standing for a subquery's value (typed as `like`).
  static ExprPtr value_column(const Expr& like, ColumnBinding binding) {
    auto column = std::make_shared<Expr>();
    column->kind = ExprKind::Column;
    column->type = like.type;
    column->location = like.location;
    column->binding = binding;
    return column;
  }

  // `from` with `value` (computed over its rows) appended; `in` becomes it.
  ExprPtr append_value(Lowered& in, const Lowered& from, std::shared_ptr<const engine::ScalarExpr> value,
                       const Expr& like) {
    std::vector<Projection> projections =
        engine::identity_projection(static_cast<std::uint32_t>(from.layout.size()));
    projections.push_back(Projection::of_expr(std::move(value)));
    in.node = dataflow_.add<engine::MapFilter>({from.node}, nullptr, std::move(projections));
    in.layout = from.layout;
    in.layout.push_back(synthetic());
    return value_column(like, in.layout.back());
  }

  // LEFT JOIN of `left` with `right` on left_keys = right_keys (expressions
  // over each side; integer widths made equal).
  Lowered left_join_on(const Lowered& left_in, const std::vector<ExprPtr>& left_keys, const Lowered& right_in,
                       const std::vector<ExprPtr>& right_keys) {
    auto [left, lcols] = key_columns(left_in, left_keys, right_keys);
    auto [right, rcols] = key_columns(right_in, right_keys, left_keys);
    engine::JoinSpec spec;
    spec.kind = engine::JoinKind::Left;
    spec.left_key = lcols;
    spec.right_key = rcols;
    spec.left_arity = static_cast<std::uint32_t>(left.layout.size());
    spec.right_arity = static_cast<std::uint32_t>(right.layout.size());
    Lowered joined;
    joined.node = engine::add_join(dataflow_, left.node, right.node, spec);
    joined.layout = left.layout;
    joined.layout.insert(joined.layout.end(), right.layout.begin(), right.layout.end());
    return joined;
  }

  // `in` with a whole-row fingerprint appended (its binding returned).
  std::pair<Lowered, ColumnBinding> fingerprinted(const Lowered& in) {
    const auto arity = static_cast<std::uint32_t>(in.layout.size());
    std::vector<Projection> projections = engine::identity_projection(arity);
    projections.push_back(Projection::of_expr(std::make_shared<RowFingerprint>(arity)));
    Lowered out = in;
    out.node = dataflow_.add<engine::MapFilter>({in.node}, nullptr, std::move(projections));
    const ColumnBinding fingerprint = synthetic();
    out.layout.push_back(fingerprint);
    return {out, fingerprint};
  }

  // Per distinct row of `marked` (by its fingerprint, at `fingerprint_at`),
  // whatever `per_row` computes from its pairs with `other`: cross join,
  // then the caller's filter/aggregate. Returns the join of the distinct
  // rows with `other`.
  Lowered cross_with(const Lowered& marked, const Lowered& other) {
    Lowered distinct = marked;
    distinct.node = dataflow_.add<engine::Distinct>({marked.node});
    engine::JoinSpec spec;
    spec.left_arity = static_cast<std::uint32_t>(distinct.layout.size());
    spec.right_arity = static_cast<std::uint32_t>(other.layout.size());
    Lowered joined;
    joined.node = engine::add_join(dataflow_, distinct.node, other.node, spec);
    joined.layout = distinct.layout;
    joined.layout.insert(joined.layout.end(), other.layout.begin(), other.layout.end());
    return joined;
  }

  // LEFT JOIN of `marked` with per-fingerprint results (fingerprint first).
  Lowered attach(const Lowered& marked, std::uint32_t fingerprint_at, const Lowered& results) {
    engine::JoinSpec spec;
    spec.kind = engine::JoinKind::Left;
    spec.left_key = {fingerprint_at};
    spec.right_key = {0};
    spec.left_arity = static_cast<std::uint32_t>(marked.layout.size());
    spec.right_arity = static_cast<std::uint32_t>(results.layout.size());
    Lowered out;
    out.node = engine::add_join(dataflow_, marked.node, results.node, spec);
    out.layout = marked.layout;
    out.layout.insert(out.layout.end(), results.layout.begin(), results.layout.end());
    return out;
  }

  // x op ANY/ALL (uncorrelated subquery), anywhere in an expression: per
  // distinct outer row, how many subquery rows make the comparison true,
  // NULL and false (a cross join), then SQL's rules: ANY is true if one is
  // true, else NULL if one is NULL, else false; ALL is false if one is
  // false, else NULL if one is NULL, else true (an empty subquery: false,
  // true).
  ExprPtr quantified_column(const Expr& e, Lowered& in) {
    auto [marked, fingerprint] = fingerprinted(in);
    const auto fingerprint_at = static_cast<std::uint32_t>(marked.layout.size() - 1);
    Lowered sub = lower(e.subplan);
    sub = project_to(sub, bindings(e.subplan->output), e.subplan->output);
    Lowered joined = cross_with(marked, sub);
    auto comparison = std::make_shared<Expr>(e);
    comparison->kind = ExprKind::Operator;
    comparison->subplan = nullptr;
    comparison->type = TypeRef{16, -1, 0};
    ExprPtr right;
    if (e.subplan->output.size() == 1) {
      right = column_ref(e.subplan->output[0]);
    } else {
      auto row = std::make_shared<Expr>();
      row->kind = ExprKind::Row;
      for (const OutputColumn& column : e.subplan->output) row->args.push_back(column_ref(column));
      row->type = TypeRef{engine::type_oid::kRecord, -1, 0};
      right = row;
    }
    comparison->args = {e.args[0], right};
    Computed truth = compute(joined, {comparison});
    std::vector<Projection> counts = {Projection::of_column(fingerprint_at)};
    for (int which = 0; which < 3; ++which) {
      counts.push_back(Projection::of_expr(std::make_shared<TruthCount>(truth.values[0], which)));
    }
    NodeId counted = dataflow_.add<engine::MapFilter>({truth.in.node}, nullptr, std::move(counts));
    engine::ReduceSpec sums;
    sums.group_key = {0};
    for (std::uint32_t c = 1; c <= 3; ++c) {
      engine::AggregateSpec sum;
      sum.kind = engine::AggregateKind::Sum;
      sum.column = c;
      sum.input = DatumKind::Int4;
      sums.aggregates.push_back(sum);
    }
    Lowered results;
    results.node = dataflow_.add<engine::Reduce>({counted}, std::move(sums));
    for (int i = 0; i < 4; ++i) results.layout.push_back(synthetic());
    Lowered attached = attach(marked, fingerprint_at, results);
    const auto base = static_cast<std::uint32_t>(marked.layout.size());
    return append_value(in, attached, std::make_shared<QuantifiedValue>(e.all, base + 1), e);
  }

  // (SELECT agg(...) FROM x WHERE <condition reading the outer row>), a
  // correlation the binder could not turn into keys: per distinct outer row,
  // the aggregate over its matching rows of x (a filtered cross join); no
  // match gives what the aggregate gives over no rows (count: 0, else NULL).
  ExprPtr correlated_aggregate_column(const Expr& e, Lowered& in) {
    const PlanNode* top = e.subplan.get();
    if (top->kind == PlanKind::Project && top->exprs.size() == 1 && top->exprs[0]->kind == ExprKind::Column) {
      top = top->inputs[0].get();
    } else {
      return nullptr;
    }
    if (top->kind != PlanKind::Aggregate || !top->group_keys.empty() || !top->grouping_sets.empty() ||
        top->aggregates.size() != 1) {
      return nullptr;
    }
    const PlanNode& filter = *top->inputs[0];
    if (filter.kind != PlanKind::Filter || !free_bindings(*filter.inputs[0]).empty()) return nullptr;
    std::set<ColumnBinding> outer(in.layout.begin(), in.layout.end());
    for (const ColumnBinding& b : free_bindings(*e.subplan)) {
      if (outer.count(b) == 0) return nullptr;
    }
    const Expr& aggregate = *top->aggregates[0];
    if (aggregate.kind != ExprKind::Aggregate) return nullptr;
    auto [marked, fingerprint] = fingerprinted(in);
    const auto fingerprint_at = static_cast<std::uint32_t>(marked.layout.size() - 1);
    Lowered inner = lower(filter.inputs[0]);
    Lowered matched = filtered(cross_with(marked, inner), filter.predicate);
    // The aggregate, grouped by the outer row's fingerprint.
    auto grouped = std::make_shared<PlanNode>(*top);
    auto fp = std::make_shared<Expr>();
    fp->kind = ExprKind::Column;
    fp->binding = fingerprint;
    fp->type = TypeRef{engine::type_oid::kBytea, -1, 0};
    grouped->group_keys = {fp};
    grouped->output.clear();
    grouped->output.push_back({.binding = {grouped->table_index, 0}, .name = "fp", .type = fp->type});
    const ColumnBinding value_binding = top->output.back().binding;
    grouped->output.push_back({.binding = value_binding, .name = "value", .type = aggregate.type});
    Lowered results = lower_aggregate_over(*grouped, matched);
    Lowered attached = attach(marked, fingerprint_at, results);
    if (aggregate.name == "count") {
      // count over no rows is 0, not NULL.
      const auto at = static_cast<std::uint32_t>(attached.layout.size() - 1);
      std::vector<Projection> value = engine::identity_projection(at);
      value.push_back(Projection::of_expr(std::make_shared<ZeroIfNull>(at)));
      attached.node = dataflow_.add<engine::MapFilter>({attached.node}, nullptr, std::move(value));
    }
    in = attached;
    return value_column(e, value_binding);
  }

  // ARRAY(SELECT v FROM ... WHERE <equalities with the outer row> [ORDER BY k]):
  // array_agg(v ORDER BY k) grouped by the correlation keys, LEFT JOINed to
  // the outer rows; no rows give '{}' (not NULL), as ARRAY() does.
  ExprPtr array_column(const Expr& e, Lowered& in) {
    const PlanNode* root = e.subplan.get();
    if (root->output.size() != 1) return nullptr;
    ExprPtr value = column_ref(root->output[0]);
    const PlanNode* ordered = root;
    if (root->kind == PlanKind::Project && root->inputs[0]->kind == PlanKind::TopK) {
      if (root->exprs[0]->kind != ExprKind::Column) return nullptr;
      value = root->exprs[0];
      ordered = root->inputs[0].get();
    }
    std::vector<SortKey> order;
    PlanPtr base = e.subplan;
    if (ordered->kind == PlanKind::TopK) {
      if (ordered->limit || ordered->offset != 0 || ordered->with_ties || ordered->sort_keys.size() > 1)
        return nullptr;
      order = ordered->sort_keys;
      base = ordered->inputs[0];
    }
    std::set<ColumnBinding> outer(in.layout.begin(), in.layout.end());
    Pulled pulled;
    PlanPtr inner = pull_up(base, outer, pulled);
    if (!inner || pulled.inner.empty() || pulled.scalar_aggregate || !free_bindings(*inner).empty())
      return nullptr;
    auto aggregate = std::make_shared<Expr>();
    aggregate->kind = ExprKind::Aggregate;
    aggregate->name = "array_agg";
    aggregate->type = e.type;
    aggregate->evaluation = Evaluation::Native;
    aggregate->args = {value};
    aggregate->order_by = order;
    PlanNode grouped;
    grouped.kind = PlanKind::Aggregate;
    grouped.table_index = next_table_++;
    const int aggregates_table = next_table_++;
    grouped.group_keys = pulled.inner;
    grouped.aggregates = {aggregate};
    for (std::size_t k = 0; k < pulled.inner.size(); ++k) {
      grouped.output.push_back({.binding = {grouped.table_index, static_cast<int>(k)},
                                .name = "key",
                                .type = pulled.inner[k]->type});
    }
    grouped.output.push_back({.binding = {aggregates_table, 0}, .name = "array", .type = e.type});
    Lowered results = lower_aggregate_over(grouped, lower(inner));
    std::vector<ExprPtr> result_keys;
    for (std::size_t k = 0; k < pulled.inner.size(); ++k)
      result_keys.push_back(column_ref(grouped.output[k]));
    std::vector<ExprPtr> outer_keys;
    for (const ExprPtr& o : pulled.outer) outer_keys.push_back(prepare(o, in));
    const Lowered joined = left_join_on(in, outer_keys, results, result_keys);
    const auto array_at = static_cast<std::uint32_t>(
        std::find(joined.layout.begin(), joined.layout.end(), grouped.output.back().binding) -
        joined.layout.begin());
    const std::uint32_t element = engine::array_element_oid(e.type.oid);
    return append_value(in, joined, std::make_shared<EmptyArrayIfNull>(array_at, element), e);
  }

  ExprPtr subquery_column(const Expr& e, Lowered& in) {
    Lowered sub = lower(e.subplan);
    const std::vector<ColumnBinding> columns = bindings(e.subplan->output);
    if (e.subquery_kind == SubqueryKind::Scalar) {
      sub = project_to(sub, {columns.at(0)}, {e.subplan->output.at(0)});
    } else {
      engine::ReduceSpec count;
      count.aggregates.emplace_back();  // count(*)
      NodeId counted = dataflow_.add<engine::Reduce>({sub.node}, std::move(count));
      sub.node = dataflow_.add<engine::MapFilter>(
          {counted}, nullptr,
          std::vector<Projection>{Projection::of_expr(std::make_shared<PositiveCount>())});
    }
    in.node = engine::add_scalar_subquery(dataflow_, in.node, sub.node);
    in.layout.push_back(synthetic());
    return value_column(e, in.layout.back());
  }

  // A correlated EXISTS whose correlation is equalities only: a LEFT join of
  // `in` with the distinct correlation keys of the subquery's rows (plus a
  // marker), so EXISTS is "the marker is not NULL" and no row is duplicated.
  ExprPtr exists_column(const Expr& e, Lowered& in) {
    std::set<ColumnBinding> outer(in.layout.begin(), in.layout.end());
    Pulled pulled;
    PlanPtr inner = pull_up(e.subplan, outer, pulled);
    if (!inner || pulled.inner.empty() || pulled.scalar_aggregate) return nullptr;
    if (!free_bindings(*inner).empty()) return nullptr;
    Lowered rows = lower(inner);
    auto [keyed, key_columns_inner] = columns_for(rows, pulled.inner);
    std::vector<Projection> keys_and_marker;
    for (std::uint32_t c : key_columns_inner) keys_and_marker.push_back(Projection::of_column(c));
    keys_and_marker.push_back(Projection::of_expr(std::make_shared<TrueValue>()));
    Lowered marks;
    marks.node = dataflow_.add<engine::MapFilter>({keyed.node}, nullptr, std::move(keys_and_marker));
    marks.node = dataflow_.add<engine::Distinct>({marks.node});
    for (std::size_t i = 0; i <= pulled.inner.size(); ++i) marks.layout.push_back(synthetic());
    std::vector<ExprPtr> mark_keys;
    for (std::size_t i = 0; i < pulled.inner.size(); ++i) {
      auto key = std::make_shared<Expr>(*pulled.inner[i]);
      key->kind = ExprKind::Column;
      key->args.clear();
      key->binding = marks.layout[i];
      mark_keys.push_back(key);
    }
    std::vector<ExprPtr> outer_keys;
    for (const ExprPtr& o : pulled.outer) outer_keys.push_back(prepare(o, in));
    in = left_join_on(in, outer_keys, marks, mark_keys);
    ExprPtr marker = value_column(e, marks.layout[pulled.inner.size()]);  // boolean
    auto test = std::make_shared<Expr>();
    test->kind = ExprKind::NullTest;
    test->negated = true;
    test->type = e.type;
    test->location = e.location;
    test->args = {marker};
    return test;
  }

  Computed compute(const Lowered& original, const std::vector<ExprPtr>& given) {
    Lowered in = original;
    std::vector<ExprPtr> exprs;
    exprs.reserve(given.size());
    for (const ExprPtr& e : given) exprs.push_back(prepare(e, in));
    Computed out{in, {}};
    const engine::Collation& collation =
        options_.collation != nullptr ? *options_.collation : engine::c_collation();
    std::vector<ExprPtr> remote;
    std::vector<std::size_t> remote_at;
    std::string reason;
    int location = -1;
    for (std::size_t i = 0; i < exprs.size(); ++i) {
      const Expr& e = *exprs[i];
      int at = e.kind == ExprKind::Column && !e.outer ? position(in, e.binding) : -1;
      if (at >= 0) {
        out.values.push_back(Projection::of_column(static_cast<std::uint32_t>(at)));
        continue;
      }
      NativeScalar compiled = compile_scalar(e, in.layout, collation);
      if (compiled.expr) {
        out.values.push_back(Projection::of_expr(compiled.expr));
        continue;
      }
      if (reason.empty()) {
        reason = compiled.unsupported;
        location = e.location;
      }
      out.values.emplace_back();
      remote.push_back(exprs[i]);
      remote_at.push_back(i);
    }
    if (remote.empty()) return out;
    if (options_.server == nullptr) throw not_supported(reason, location);
    std::shared_ptr<const engine::BatchFunction> batch;
    try {
      batch = server_batch(*options_.server, remote, in.layout);
    } catch (const Error& error) {
      if (error.kind() != ErrorKind::Unsupported) throw;
      throw not_supported(reason, location);
    }
    out.in.node = dataflow_.add<engine::BatchMap>({in.node}, std::move(batch));
    for (std::size_t k = 0; k < remote.size(); ++k) {
      out.values[remote_at[k]] = Projection::of_column(static_cast<std::uint32_t>(out.in.layout.size()));
      out.in.layout.push_back(synthetic());
    }
    return out;
  }

  // The rows of `in` for which `condition` is true.
  Lowered filtered(const Lowered& original, const ExprPtr& given) {
    Lowered in = original;
    const ExprPtr condition = prepare(given, in);
    const engine::Collation& collation =
        options_.collation != nullptr ? *options_.collation : engine::c_collation();
    NativePredicate compiled = compile_predicate(*condition, in.layout, collation);
    Lowered out = in;
    if (compiled.predicate) {
      out.node = dataflow_.add<engine::MapFilter>({in.node}, compiled.predicate, std::vector<Projection>{});
      return out;
    }
    Computed computed = compute(in, {condition});
    out = computed.in;
    out.node = dataflow_.add<engine::MapFilter>({computed.in.node},
                                                std::make_shared<ColumnIsTrue>(computed.values[0].column),
                                                std::vector<Projection>{});
    return out;
  }

  // The value of a constant expression (a literal, possibly cast), as text;
  // nullopt for NULL or anything that reads a column.
  std::optional<std::string> constant_text(const Expr& expr) {
    std::vector<ColumnBinding> used;
    collect_bindings(std::make_shared<Expr>(expr), used);
    if (!used.empty()) return std::nullopt;
    const Lowered none;
    engine::RowPacker empty;
    engine::RowPacker value;
    const engine::Collation& collation =
        options_.collation != nullptr ? *options_.collation : engine::c_collation();
    NativeScalar native = compile_scalar(expr, none.layout, collation);
    if (native.expr) {
      native.expr->evaluate(empty.row(), value);
    } else if (options_.server != nullptr) {
      // A constant the native evaluator cannot compute: once, by the server.
      std::vector<engine::RowRef> one = {empty.row()};
      const std::vector<engine::Row> computed =
          server_batch(*options_.server, {std::make_shared<Expr>(expr)}, none.layout)->evaluate(one);
      value.push_row(computed.at(0));
    } else {
      throw not_supported(native.unsupported, expr.location);
    }
    engine::DatumRef d = value.row().at(0);
    if (d.is_null()) return std::nullopt;
    std::string out;
    engine::format_datum(d, out);
    return out;
  }

  // Makes every expression a column of the input: column references are
  // found in place, anything else is computed and appended. Returns the
  // (possibly extended) input and each expression's column.
  std::pair<Lowered, std::vector<std::uint32_t>> columns_for(const Lowered& in,
                                                             const std::vector<ExprPtr>& exprs) {
    Computed computed = compute(in, exprs);
    std::vector<std::uint32_t> columns;
    std::vector<Projection> projections =
        engine::identity_projection(static_cast<std::uint32_t>(computed.in.layout.size()));
    Lowered out = computed.in;
    for (const Projection& value : computed.values) {
      if (!value.expr) {
        columns.push_back(value.column);
        continue;
      }
      projections.push_back(value);
      columns.push_back(static_cast<std::uint32_t>(out.layout.size()));
      out.layout.push_back(synthetic());
    }
    if (out.layout.size() != computed.in.layout.size()) {
      out.node = dataflow_.add<engine::MapFilter>({computed.in.node}, nullptr, std::move(projections));
    }
    return {out, columns};
  }

  // Projects `in` to exactly the `want` bindings (in that order), restoring
  // numeric typmod scales when `rescale` says the input emits normalized keys.
  Lowered project_to(const Lowered& in, const std::vector<ColumnBinding>& want,
                     const std::vector<OutputColumn>& types, bool rescale = false) {
    std::vector<Projection> projections;
    bool identity = want.size() == in.layout.size();
    for (std::size_t i = 0; i < want.size(); ++i) {
      int at = position(in, want[i]);
      if (at < 0) throw Error(ErrorKind::Internal, "lowering: a plan column is missing from its input");
      identity = identity && at == static_cast<int>(i);
      const TypeRef& type = types[i].type;
      constexpr Oid kNumeric = 1700;
      if (rescale && type.oid == kNumeric && type.typmod >= 4) {
        auto scale = static_cast<std::uint16_t>((type.typmod - 4) & 0xffff);
        projections.push_back(
            Projection::of_expr(std::make_shared<RescaleNumeric>(static_cast<std::uint32_t>(at), scale)));
        identity = false;
      } else {
        projections.push_back(Projection::of_column(static_cast<std::uint32_t>(at)));
      }
    }
    if (identity) return in;
    Lowered out;
    out.node = dataflow_.add<engine::MapFilter>({in.node}, nullptr, std::move(projections));
    out.layout = want;
    return out;
  }

  Lowered finish(const PlanNode& node, const Lowered& in, bool rescale = false) {
    std::vector<ColumnBinding> want;
    for (const OutputColumn& column : node.output) want.push_back(column.binding);
    return project_to(in, want, node.output, rescale);
  }

  std::vector<engine::SortKey> sort_keys(const std::vector<SortKey>& keys,
                                         const std::vector<std::uint32_t>& columns,
                                         const engine::Collation*& collation) {
    std::vector<engine::SortKey> out;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      out.push_back({columns[i], keys[i].descending, keys[i].nulls_first});
      if (keys[i].expr->type.collation != 0) use_collation(collation, *keys[i].expr, keys[i].expr->location);
    }
    return out;
  }

  // ---- nodes ---------------------------------------------------------------

  Lowered lower(const PlanPtr& node) {
    if (auto it = memo_.find(node.get()); it != memo_.end()) return it->second;
    std::string key;
    if (options_.context != nullptr && parent_ == nullptr && canonical(*node, key)) {
      if (auto it = options_.context->shared.find(key); it != options_.context->shared.end()) {
        ++options_.context->reused;
        Lowered out{it->second, bindings(node->output)};
        memo_.emplace(node.get(), out);
        return out;
      }
      Lowered out = finish(*node, lower_uncached(node));
      options_.context->shared.emplace(std::move(key), out.node);
      memo_.emplace(node.get(), out);
      return out;
    }
    Lowered out = lower_uncached(node);
    memo_.emplace(node.get(), out);
    return out;
  }

  // ---- canonical forms (equal subplans across stream tables) -----------------

  // Appends the canonical form of `e` over `scope` (columns by position);
  // false when it cannot be compared (correlated, subqueries).
  static bool expr_key(const ExprPtr& e, const std::vector<ColumnBinding>& scope, std::string& out) {
    if (!e) {
      out += "_";
      return true;
    }
    if (e->outer || e->kind == ExprKind::Subquery) return false;
    out += "(" + std::to_string(static_cast<int>(e->kind)) + ":" + std::to_string(e->type.oid) + "," +
           std::to_string(e->type.typmod) + "," + std::to_string(e->type.collation);
    if (e->kind == ExprKind::Column) {
      auto at = std::find(scope.begin(), scope.end(), e->binding);
      if (at == scope.end()) return false;
      out += "$" + std::to_string(at - scope.begin()) + ")";
      return true;
    }
    out += "|" + e->name + "|" + e->literal + "|" + std::to_string(e->function_oid) + "," +
           std::to_string(e->operator_oid) + "," + std::to_string(static_cast<int>(e->bool_op)) + "," +
           std::to_string(e->negated) + std::to_string(e->test) + std::to_string(e->all) +
           std::to_string(e->is_null) + std::to_string(e->agg_star) + std::to_string(e->agg_distinct) +
           std::to_string(e->within_group);
    for (const ExprPtr& arg : e->args) {
      if (!expr_key(arg, scope, out)) return false;
    }
    out += "f";
    if (!expr_key(e->filter, scope, out)) return false;
    for (const SortKey& key : e->order_by) {
      out += key.descending ? "d" : "a";
      out += key.nulls_first ? "n" : "l";
      if (!expr_key(key.expr, scope, out)) return false;
    }
    if (e->window) {
      out += "w" + std::to_string(e->window->frame_options);
      for (const ExprPtr& p : e->window->partition_by) {
        if (!expr_key(p, scope, out)) return false;
      }
      for (const SortKey& key : e->window->order_by) {
        out += key.descending ? "d" : "a";
        out += key.nulls_first ? "n" : "l";
        if (!expr_key(key.expr, scope, out)) return false;
      }
      if (!expr_key(e->window->frame_start, scope, out) || !expr_key(e->window->frame_end, scope, out))
        return false;
    }
    out += ")";
    return true;
  }

  // The canonical form of a subplan: its kind, parameters, expressions and
  // output by position over its inputs' columns, and its inputs' forms.
  static bool canonical(const PlanNode& node, std::string& out) {
    if (node.kind == PlanKind::RecursiveUnion || node.kind == PlanKind::WorkTableScan || node.lateral)
      return false;
    std::vector<ColumnBinding> scope;
    for (const PlanPtr& input : node.inputs) {
      for (const OutputColumn& column : input->output) scope.push_back(column.binding);
    }
    out += "[" + std::to_string(static_cast<int>(node.kind));
    if (node.kind == PlanKind::Scan) {
      if (node.relation->is_stream_table) return false;  // fed by another dataflow
      out += "r" + std::to_string(node.relation->oid) + ":";
      for (int c : node.scan_columns) out += std::to_string(c) + ",";
    }
    out += "j" + std::to_string(static_cast<int>(node.join_type)) + std::to_string(node.null_aware) + "s" +
           std::to_string(static_cast<int>(node.set_op)) + std::to_string(node.all) + "l" +
           (node.limit ? std::to_string(*node.limit) : "-") + "o" + std::to_string(node.offset) +
           std::to_string(node.with_ties) + std::to_string(node.with_ordinality);
    auto exprs = [&](const std::vector<ExprPtr>& list) {
      out += "{";
      for (const ExprPtr& e : list) {
        if (!expr_key(e, scope, out)) return false;
      }
      out += "}";
      return true;
    };
    auto sorts = [&](const std::vector<SortKey>& keys) {
      for (const SortKey& key : keys) {
        out += key.descending ? "d" : "a";
        out += key.nulls_first ? "n" : "l";
        if (!expr_key(key.expr, scope, out)) return false;
      }
      return true;
    };
    if (!expr_key(node.predicate, scope, out) || !exprs(node.exprs) || !exprs(node.group_keys) ||
        !exprs(node.aggregates) || !exprs(node.window_functions) || !exprs(node.distinct_on) ||
        !exprs(node.partition_by) || !sorts(node.sort_keys)) {
      return false;
    }
    for (const auto& row : node.rows) {
      if (!exprs(row)) return false;
    }
    for (const auto& set : node.grouping_sets) {
      out += "g";
      for (int k : set) out += std::to_string(k) + ",";
    }
    out += "|out:";
    for (const OutputColumn& column : node.output) {
      auto at = std::find(scope.begin(), scope.end(), column.binding);
      if (at != scope.end()) {
        out += "$" + std::to_string(at - scope.begin());
      } else {
        out += std::string(column.binding.table == node.table_index ? "@t" : "@o") +
               std::to_string(column.binding.column);
      }
      out += ":" + std::to_string(column.type.oid) + ",";
    }
    out += "|in:";
    for (const PlanPtr& input : node.inputs) {
      if (!canonical(*input, out)) return false;
    }
    out += "]";
    return true;
  }

  Lowered lower_uncached(const PlanPtr& node) {
    Lowered out;
    if (parent_ != nullptr && !reads_work_table(*node)) {
      // Inside a recursive term, what does not depend on the recursion is
      // computed once in the enclosing dataflow and fed in as an input.
      Lowered outer = parent_->lower(node);
      out.node = dataflow_.add_source("outer input");
      out.layout = outer.layout;
      extra_sources_.push_back(out.node);
      extra_inputs_.push_back(outer.node);
    } else {
      out = lower_node(*node);
    }
    return out;
  }

  [[nodiscard]] bool reads_work_table(const PlanNode& node) const {
    if (node.kind == PlanKind::WorkTableScan && node.work_table_of == work_table_) return true;
    return std::any_of(node.inputs.begin(), node.inputs.end(),
                       [&](const PlanPtr& input) { return reads_work_table(*input); });
  }

  // WITH RECURSIVE: the non-recursive term here, the recursive term in a
  // step dataflow of its own that Iterate runs to a fixpoint each epoch.
  Lowered lower_recursive_union(const PlanNode& node) {
    Lowered base =
        project_to(lower(node.inputs[0]), bindings(node.inputs[0]->output), node.inputs[0]->output);
    auto step = std::make_unique<engine::Dataflow>();
    Lowerer inner(plan_, *step, options_);
    inner.parent_ = this;
    inner.work_table_ = node.table_index;
    inner.recursive_source_ = step->add_source("recursive");
    Lowered term = inner.lower(node.inputs[1]);
    term = inner.project_to(term, bindings(node.inputs[1]->output), node.inputs[1]->output);
    step->output(term.node);
    engine::IterateSpec spec;
    spec.recursive = inner.recursive_source_;
    spec.extra = inner.extra_sources_;
    spec.output = term.node;
    spec.kind = node.all ? engine::IterateKind::UnionAll : engine::IterateKind::Union;
    spec.step = std::move(step);
    std::vector<NodeId> inputs = {base.node};
    inputs.insert(inputs.end(), inner.extra_inputs_.begin(), inner.extra_inputs_.end());
    Lowered out;
    out.node = dataflow_.add<engine::Iterate>(std::move(inputs), std::move(spec));
    out.layout = bindings(node.output);
    return out;
  }

  static std::vector<ColumnBinding> bindings(const std::vector<OutputColumn>& columns) {
    std::vector<ColumnBinding> out;
    out.reserve(columns.size());
    for (const OutputColumn& column : columns) out.push_back(column.binding);
    return out;
  }

  Lowered lower_node(const PlanNode& node) {
    switch (node.kind) {
      case PlanKind::Scan: return lower_scan(node);
      case PlanKind::Values: return lower_values(node);
      case PlanKind::Filter: return lower_filter(node);
      case PlanKind::Project: return lower_project(node);
      case PlanKind::Join: return lower_join(node);
      case PlanKind::Aggregate: return lower_aggregate(node);
      case PlanKind::Window: return lower_window(node);
      case PlanKind::Distinct: return lower_distinct(node);
      case PlanKind::SetOp: return lower_set_op(node);
      case PlanKind::TopK: return lower_top_k(node);
      case PlanKind::FunctionScan: return lower_function_scan(node, nullptr);
      case PlanKind::RecursiveUnion: return lower_recursive_union(node);
      case PlanKind::WorkTableScan: {
        if (node.work_table_of != work_table_)
          throw not_supported("a recursive reference from a nested WITH", -1);
        Lowered out;
        out.node = recursive_source_;
        out.layout = bindings(node.output);
        return out;
      }
    }
    throw Error(ErrorKind::Internal, "lowering: unknown plan node");
  }

  Lowered lower_scan(const PlanNode& node) {
    const LoweredSource& source = sources_.at(node.relation->oid);
    std::vector<Projection> projections;
    bool identity = node.scan_columns.size() == source.columns.size();
    for (std::size_t i = 0; i < node.scan_columns.size(); ++i) {
      auto at = std::find(source.columns.begin(), source.columns.end(), node.scan_columns[i]);
      auto column = static_cast<std::uint32_t>(at - source.columns.begin());
      identity = identity && column == i;
      projections.push_back(Projection::of_column(column));
    }
    Lowered out;
    out.node = identity ? source.node : dataflow_.add<engine::MapFilter>({source.node}, nullptr, projections);
    for (const OutputColumn& column : node.output) out.layout.push_back(column.binding);
    return out;
  }

  Lowered lower_values(const PlanNode& node) {
    engine::ZSet rows;
    engine::RowPacker packer;
    engine::RowPacker empty;
    const Lowered none;
    for (const auto& row : node.rows) {
      packer.clear();
      for (const ExprPtr& e : row) scalar(*e, none)->evaluate(empty.row(), packer);
      rows.add(packer.row(), 1);
    }
    if (node.rows.empty()) rows.add(empty.row(), 1);  // a FROM-less SELECT: one empty row
    Lowered out;
    out.node = dataflow_.add<engine::Constant>({}, std::move(rows));
    for (const OutputColumn& column : node.output) out.layout.push_back(column.binding);
    return out;
  }

  Lowered lower_filter(const PlanNode& node) {
    Lowered in = lower(node.inputs[0]);
    if (!node.predicate) return in;
    return finish(node, filtered(in, node.predicate));
  }

  // A set-returning function call at the top of a SELECT item.
  bool returns_set(const Expr& e) {
    if (e.kind != ExprKind::Function) return false;
    if (options_.server != nullptr) return options_.server->returns_set(e.function_oid);
    return e.name == "unnest" || e.name == "generate_series";
  }

  Lowered lower_project(const PlanNode& node) {
    Lowered in = lower(node.inputs[0]);
    // One set-returning function in the SELECT list is a LATERAL function
    // scan: each input row once per generated row (none: the row goes).
    std::vector<ExprPtr> exprs = node.exprs;
    int set_returning = -1;
    bool nested_set_returning = false;
    for (std::size_t i = 0; i < exprs.size(); ++i) {
      bool nested = false;
      for (const ExprPtr& arg : exprs[i]->args) {
        walk_expr(arg, [&](const ExprPtr& sub) { nested = nested || returns_set(*sub); });
      }
      nested_set_returning = nested_set_returning || nested;
      if (!returns_set(*exprs[i])) continue;
      nested_set_returning = nested_set_returning || set_returning >= 0;
      set_returning = static_cast<int>(i);
    }
    if (nested_set_returning && options_.server != nullptr) {
      // Set-returning functions inside expressions, or several of them: the
      // whole SELECT list by the server, row sets per input row (ProjectSet).
      Lowered prepared = in;
      std::vector<ExprPtr> ready;
      ready.reserve(exprs.size());
      for (const ExprPtr& e : exprs) ready.push_back(prepare(e, prepared));
      std::shared_ptr<const engine::BatchTableFunction> batch;
      try {
        batch = server_project_set(*options_.server, ready, prepared.layout);
      } catch (const Error& error) {
        if (error.kind() != ErrorKind::Unsupported) throw;
        throw not_supported("this SELECT list with set-returning functions", exprs[0]->location);
      }
      Lowered out;
      out.node = dataflow_.add<engine::BatchFlatMap>({prepared.node}, std::move(batch));
      out.layout = prepared.layout;
      for (const OutputColumn& column : node.output) out.layout.push_back(column.binding);
      return finish(node, out);
    }
    if (nested_set_returning) throw not_supported("set-returning functions inside SELECT expressions", -1);
    if (set_returning >= 0) {
      const ExprPtr call = exprs[static_cast<std::size_t>(set_returning)];
      PlanNode scan;
      scan.kind = PlanKind::FunctionScan;
      scan.exprs = {call};
      scan.output.push_back({.binding = synthetic(), .name = call->name, .type = call->type});
      in = lower_function_scan(scan, &in);
      auto column = std::make_shared<Expr>();
      column->kind = ExprKind::Column;
      column->type = call->type;
      column->binding = scan.output[0].binding;
      exprs[static_cast<std::size_t>(set_returning)] = column;
    }
    Computed computed = compute(in, exprs);
    bool identity = computed.values.size() == computed.in.layout.size();
    for (std::size_t i = 0; i < computed.values.size(); ++i) {
      identity = identity && !computed.values[i].expr && computed.values[i].column == i;
    }
    Lowered out;
    out.node =
        identity ? computed.in.node
                 : dataflow_.add<engine::MapFilter>({computed.in.node}, nullptr, std::move(computed.values));
    for (const OutputColumn& column : node.output) out.layout.push_back(column.binding);
    return out;
  }

  // ---- joins -----------------------------------------------------------------

  struct EquiKeys {
    std::vector<ExprPtr> left;
    std::vector<ExprPtr> right;
    std::vector<ExprPtr> residual;
  };

  static void conjuncts(const ExprPtr& e, std::vector<ExprPtr>& out) {
    if (!e) return;
    if (e->kind == ExprKind::Bool && e->bool_op == BoolOp::And) {
      for (const ExprPtr& arg : e->args) conjuncts(arg, out);
      return;
    }
    out.push_back(e);
  }

  static bool reads_only(const ExprPtr& e, const std::set<ColumnBinding>& side) {
    std::vector<ColumnBinding> used;
    collect_bindings(e, used);
    return !used.empty() &&
           std::all_of(used.begin(), used.end(), [&](const ColumnBinding& b) { return side.count(b) != 0; });
  }

  // `l = r` whose operator is an equality the engine's key bytes implement:
  // both sides of the same kind (or integers of any width), no collation
  // other than deterministic ones.
  static bool is_key_equality(const Expr& e) {
    if (e.kind != ExprKind::Operator || e.name != "=" || e.args.size() != 2) return false;
    if (e.evaluation != Evaluation::Native) return false;
    const DatumKind l = engine::kind_for_type_oid(e.args[0]->type.oid);
    const DatumKind r = engine::kind_for_type_oid(e.args[1]->type.oid);
    if (l == DatumKind::PassThrough || r == DatumKind::PassThrough) return false;
    if (l == DatumKind::Float4 || l == DatumKind::Float8 || r == DatumKind::Float4 || r == DatumKind::Float8)
      return l == r;
    if (l == DatumKind::Json || r == DatumKind::Json) return false;  // json has no equality
    return l == r || (is_integer(l) && is_integer(r));
  }

  EquiKeys split_condition(const ExprPtr& condition, const Lowered& left, const Lowered& right) {
    std::set<ColumnBinding> lset(left.layout.begin(), left.layout.end());
    std::set<ColumnBinding> rset(right.layout.begin(), right.layout.end());
    std::vector<ExprPtr> all;
    conjuncts(condition, all);
    EquiKeys keys;
    for (const ExprPtr& c : all) {
      if (is_key_equality(*c)) {
        if (reads_only(c->args[0], lset) && reads_only(c->args[1], rset)) {
          keys.left.push_back(c->args[0]);
          keys.right.push_back(c->args[1]);
          continue;
        }
        if (reads_only(c->args[1], lset) && reads_only(c->args[0], rset)) {
          keys.left.push_back(c->args[1]);
          keys.right.push_back(c->args[0]);
          continue;
        }
      }
      if (c->kind == ExprKind::Const && !c->is_null && c->literal == "true") continue;
      keys.residual.push_back(c);
    }
    return keys;
  }

  // Key columns of both sides, integers widened to int8 where the two sides' widths differ.
  std::pair<Lowered, std::vector<std::uint32_t>> key_columns(const Lowered& in,
                                                             const std::vector<ExprPtr>& keys,
                                                             const std::vector<ExprPtr>& other) {
    auto [extended, columns] = columns_for(in, keys);
    std::vector<Projection> projections =
        engine::identity_projection(static_cast<std::uint32_t>(extended.layout.size()));
    Lowered out = extended;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const DatumKind mine = engine::kind_for_type_oid(keys[i]->type.oid);
      const DatumKind theirs = engine::kind_for_type_oid(other[i]->type.oid);
      if (mine == theirs || !is_integer(mine)) continue;
      projections.push_back(Projection::of_expr(std::make_shared<WidenToInt8>(columns[i])));
      columns[i] = static_cast<std::uint32_t>(out.layout.size());
      out.layout.push_back(synthetic());
    }
    if (out.layout.size() != extended.layout.size()) {
      out.node = dataflow_.add<engine::MapFilter>({extended.node}, nullptr, std::move(projections));
    }
    return {out, columns};
  }

  // ---- join order ------------------------------------------------------------

  // The leaves and conditions of a tree of inner joins.
  static void flatten_inner(const PlanPtr& node, std::vector<PlanPtr>& leaves,
                            std::vector<ExprPtr>& conditions) {
    if (node->kind == PlanKind::Join && node->join_type == JoinType::Inner && !node->lateral) {
      flatten_inner(node->inputs[0], leaves, conditions);
      flatten_inner(node->inputs[1], leaves, conditions);
      conjuncts(node->predicate, conditions);
      return;
    }
    leaves.push_back(node);
  }

  // Inner joins in an order where each join has key equalities with what
  // is already joined whenever the conditions allow it (FROM a, b, c WHERE
  // a.x = c.x AND c.y = b.y joins a with c first, never a with b by a cross
  // product); otherwise FROM order. Null when the order stays as written.
  PlanPtr reorder_inner_joins(const PlanNode& node) {
    std::vector<PlanPtr> leaves;
    std::vector<ExprPtr> conditions;
    flatten_inner(std::make_shared<PlanNode>(node), leaves, conditions);
    if (leaves.size() < 3) return nullptr;
    auto columns_of = [](const PlanPtr& leaf) {
      std::set<ColumnBinding> out;
      for (const OutputColumn& c : leaf->output) out.insert(c.binding);
      return out;
    };
    auto connects = [&](const std::set<ColumnBinding>& joined, const std::set<ColumnBinding>& leaf) {
      return std::any_of(conditions.begin(), conditions.end(), [&](const ExprPtr& c) {
        if (!is_key_equality(*c)) return false;
        return (reads_only(c->args[0], joined) && reads_only(c->args[1], leaf)) ||
               (reads_only(c->args[1], joined) && reads_only(c->args[0], leaf));
      });
    };
    std::vector<std::size_t> order = {0};
    std::vector<bool> used(leaves.size(), false);
    used[0] = true;
    std::set<ColumnBinding> joined = columns_of(leaves[0]);
    bool changed = false;
    while (order.size() < leaves.size()) {
      std::size_t next = leaves.size();
      for (std::size_t i = 0; i < leaves.size() && next == leaves.size(); ++i) {
        if (!used[i] && connects(joined, columns_of(leaves[i]))) next = i;
      }
      if (next == leaves.size()) {
        for (std::size_t i = 0; i < leaves.size() && next == leaves.size(); ++i) {
          if (!used[i]) next = i;
        }
      }
      changed = changed || next != order.size();
      used[next] = true;
      order.push_back(next);
      const auto more = columns_of(leaves[next]);
      joined.insert(more.begin(), more.end());
    }
    if (!changed) return nullptr;
    // Rebuild left-deep, each condition at the first join that has its columns.
    std::vector<bool> applied(conditions.size(), false);
    PlanPtr tree = leaves[order[0]];
    std::set<ColumnBinding> have = columns_of(tree);
    for (std::size_t k = 1; k < order.size(); ++k) {
      const PlanPtr& leaf = leaves[order[k]];
      const auto more = columns_of(leaf);
      have.insert(more.begin(), more.end());
      std::vector<ExprPtr> here;
      for (std::size_t c = 0; c < conditions.size(); ++c) {
        std::vector<ColumnBinding> reads;
        collect_bindings(conditions[c], reads);
        const bool ready = std::all_of(reads.begin(), reads.end(),
                                       [&](const ColumnBinding& b) { return have.count(b) != 0; });
        if (!applied[c] && ready) {
          applied[c] = true;
          here.push_back(conditions[c]);
        }
      }
      auto join = std::make_shared<PlanNode>(node);
      join->inputs = {tree, leaf};
      join->predicate = here.empty() ? nullptr : conjunction(here);
      join->output = tree->output;
      join->output.insert(join->output.end(), leaf->output.begin(), leaf->output.end());
      tree = join;
    }
    if (std::find(applied.begin(), applied.end(), false) != applied.end()) return nullptr;
    return tree;
  }

  Lowered lower_join(const PlanNode& node) {
    if (!node.lateral && node.join_type == JoinType::Inner && !reordering_) {
      if (PlanPtr reordered = reorder_inner_joins(node)) {
        reordering_ = true;
        Lowered out = lower(reordered);
        reordering_ = false;
        return finish(node, out);
      }
    }
    if (node.lateral) {
      const PlanNode& right = *node.inputs[1];
      if (right.kind == PlanKind::FunctionScan && node.join_type == JoinType::Inner) {
        Lowered left = lower(node.inputs[0]);
        Lowered out = lower_function_scan(right, &left);
        if (node.predicate) out = filtered(out, node.predicate);
        return finish(node, out);
      }
      if (right.kind == PlanKind::Values && node.join_type == JoinType::Inner) {
        Lowered left = lower(node.inputs[0]);
        Lowered out = lower_lateral_values(right, left);
        if (node.predicate) out = filtered(out, node.predicate);
        return finish(node, out);
      }
      if (PlanPtr decorrelated = decorrelate_lateral(node)) return lower(decorrelated);
      throw not_supported("a LATERAL subquery", -1);
    }
    Lowered left = lower(node.inputs[0]);
    Lowered right = lower(node.inputs[1]);
    EquiKeys keys = split_condition(node.predicate, left, right);
    auto [lkeyed, lcols] = key_columns(left, keys.left, keys.right);
    auto [rkeyed, rcols] = key_columns(right, keys.right, keys.left);

    if (node.join_type == JoinType::Semi || node.join_type == JoinType::Anti) {
      if (!keys.residual.empty())
        return lower_semi_join_with_residual(node, lkeyed, lcols, rkeyed, rcols, keys);
      engine::SemiJoinSpec spec;
      spec.kind = node.join_type == JoinType::Semi ? engine::SemiJoinKind::Exists
                  : node.null_aware                ? engine::SemiJoinKind::NotIn
                                                   : engine::SemiJoinKind::NotExists;
      spec.left_key = lcols;
      spec.right_key = rcols;
      Lowered out;
      out.node = engine::add_semi_join(dataflow_, lkeyed.node, rkeyed.node, spec);
      out.layout = lkeyed.layout;
      return finish(node, out);
    }

    if (!keys.residual.empty() && node.join_type != JoinType::Inner) {
      throw not_supported("an outer join condition other than equalities", keys.residual[0]->location);
    }
    engine::JoinSpec spec;
    switch (node.join_type) {
      case JoinType::Inner: spec.kind = engine::JoinKind::Inner; break;
      case JoinType::Left: spec.kind = engine::JoinKind::Left; break;
      case JoinType::Right: spec.kind = engine::JoinKind::Right; break;
      case JoinType::Full: spec.kind = engine::JoinKind::Full; break;
      default: break;
    }
    spec.left_key = lcols;
    spec.right_key = rcols;
    spec.left_arity = static_cast<std::uint32_t>(lkeyed.layout.size());
    spec.right_arity = static_cast<std::uint32_t>(rkeyed.layout.size());
    Lowered out;
    out.node = engine::add_join(dataflow_, lkeyed.node, rkeyed.node, spec);
    out.layout = lkeyed.layout;
    out.layout.insert(out.layout.end(), rkeyed.layout.begin(), rkeyed.layout.end());
    if (!keys.residual.empty()) out = filtered(out, conjunction(keys.residual));
    return finish(node, out);
  }

  // ---- LATERAL subqueries ----------------------------------------------------

  // LATERAL (VALUES (...), (...)) over `left`: each left row followed by
  // each VALUES row evaluated over it.
  Lowered lower_lateral_values(const PlanNode& values, const Lowered& left) {
    std::vector<std::vector<std::shared_ptr<const engine::ScalarExpr>>> rows;
    Lowered in = left;
    for (const auto& row : values.rows) {
      Computed computed = compute(in, row);
      in = computed.in;
      std::vector<std::shared_ptr<const engine::ScalarExpr>> compiled;
      for (const Projection& p : computed.values) {
        compiled.push_back(p.expr ? p.expr : std::make_shared<ColumnValue>(p.column));
      }
      rows.push_back(std::move(compiled));
    }
    Lowered out;
    out.node = dataflow_.add<engine::FlatMap>({in.node}, std::make_shared<RowsOf>(std::move(rows)));
    out.layout = in.layout;
    for (const OutputColumn& column : values.output) out.layout.push_back(column.binding);
    return out;
  }

  // A LATERAL subquery correlated only by equalities `inner = outer` in its
  // WHERE clauses is rewritten into an ordinary join: the equalities are
  // pulled up out of the subquery, their inner sides carried up as extra
  // columns (the PARTITION of a top-k, extra GROUP BY keys of an aggregate),
  // and become the join's keys. Returns null when the subquery has another
  // shape (then it is not supported).
  PlanPtr decorrelate_lateral(const PlanNode& join) {
    std::set<ColumnBinding> outer;
    for (const OutputColumn& column : join.inputs[0]->output) outer.insert(column.binding);
    Pulled pulled;
    PlanPtr right = pull_up(join.inputs[1], outer, pulled);
    if (!right || pulled.inner.empty()) return nullptr;
    auto out = std::make_shared<PlanNode>(join);
    out->lateral = false;
    out->inputs = {join.inputs[0], right};
    std::vector<ExprPtr> conditions;
    for (std::size_t i = 0; i < pulled.inner.size(); ++i) {
      auto eq = std::make_shared<Expr>(*pulled.equalities[i]);
      eq->args = {pulled.outer[i], pulled.inner[i]};
      conditions.push_back(eq);
    }
    std::vector<ExprPtr> original;
    conjuncts(join.predicate, original);
    for (const ExprPtr& c : original) {
      if (!(c->kind == ExprKind::Const && !c->is_null && c->literal == "true")) conditions.push_back(c);
    }
    if (pulled.scalar_aggregate) {
      // A scalar aggregate yields a row even over no rows: for outer rows
      // without partners that is NULL extension, right only without count().
      if (join.join_type != JoinType::Inner && join.join_type != JoinType::Left) return nullptr;
      if (conditions.size() != pulled.inner.size() || pulled.counts) return nullptr;
      out->join_type = JoinType::Left;
    }
    out->predicate = conjunction(conditions);
    return out;
  }

  struct Pulled {
    std::vector<ExprPtr> inner;       // at the current level: columns of the node returned
    std::vector<ExprPtr> outer;       // the outer side of each equality
    std::vector<ExprPtr> equalities;  // the equality operators (OIDs, types)
    bool scalar_aggregate = false;
    bool counts = false;
  };

  static bool reads_any(const ExprPtr& e, const std::set<ColumnBinding>& side) {
    std::vector<ColumnBinding> used;
    collect_bindings(e, used);
    return std::any_of(used.begin(), used.end(), [&](const ColumnBinding& b) { return side.count(b) != 0; });
  }

  static bool subtree_reads(const PlanNode& node, const std::set<ColumnBinding>& outer) {
    for (const ExprPtr& e : node_exprs(node)) {
      if (reads_any(e, outer)) return true;
    }
    return std::any_of(node.inputs.begin(), node.inputs.end(),
                       [&](const PlanPtr& input) { return subtree_reads(*input, outer); });
  }

  static ExprPtr column_ref(const OutputColumn& column) {
    auto e = std::make_shared<Expr>();
    e->kind = ExprKind::Column;
    e->binding = column.binding;
    e->type = column.type;
    e->name = column.name;
    return e;
  }

  // Returns the node rewritten without correlation, or null.
  PlanPtr pull_up(const PlanPtr& node, const std::set<ColumnBinding>& outer, Pulled& pulled) {
    if (!subtree_reads(*node, outer)) return node;
    switch (node->kind) {
      case PlanKind::Filter: {
        PlanPtr input = pull_up(node->inputs[0], outer, pulled);
        if (!input) return nullptr;
        std::vector<ExprPtr> all;
        std::vector<ExprPtr> kept;
        conjuncts(node->predicate, all);
        for (const ExprPtr& c : all) {
          if (!reads_any(c, outer)) {
            kept.push_back(c);
            continue;
          }
          if (!is_key_equality(*c)) return nullptr;
          const bool left_outer = reads_only(c->args[0], outer) && !reads_any(c->args[1], outer);
          const bool right_outer = reads_only(c->args[1], outer) && !reads_any(c->args[0], outer);
          if (!left_outer && !right_outer) return nullptr;
          pulled.outer.push_back(left_outer ? c->args[0] : c->args[1]);
          pulled.inner.push_back(left_outer ? c->args[1] : c->args[0]);
          pulled.equalities.push_back(c);
        }
        auto out = std::make_shared<PlanNode>(*node);
        out->inputs = {input};
        out->output = input->output;
        if (kept.empty()) return input;
        out->predicate = conjunction(kept);
        return out;
      }
      case PlanKind::Project: {
        PlanPtr input = pull_up(node->inputs[0], outer, pulled);
        if (!input) return nullptr;
        auto out = std::make_shared<PlanNode>(*node);
        out->inputs = {input};
        for (const ExprPtr& e : out->exprs) {
          if (reads_any(e, outer)) return nullptr;
        }
        const int table = next_table_++;
        for (std::size_t i = 0; i < pulled.inner.size(); ++i) {
          OutputColumn column{
              .binding = {table, static_cast<int>(i)}, .name = "?key?", .type = pulled.inner[i]->type};
          out->exprs.push_back(pulled.inner[i]);
          out->output.push_back(column);
          pulled.inner[i] = column_ref(column);
        }
        return out;
      }
      case PlanKind::TopK: {
        PlanPtr input = pull_up(node->inputs[0], outer, pulled);
        if (!input || node->with_ties) return nullptr;
        auto out = std::make_shared<PlanNode>(*node);
        out->inputs = {input};
        out->output = input->output;
        out->partition_by.insert(out->partition_by.end(), pulled.inner.begin(), pulled.inner.end());
        return out;
      }
      case PlanKind::Aggregate: {
        PlanPtr input = pull_up(node->inputs[0], outer, pulled);
        if (!input || !node->grouping_sets.empty()) return nullptr;
        for (const ExprPtr& e : node->aggregates) {
          if (reads_any(e, outer) || e->kind == ExprKind::Grouping) return nullptr;
          pulled.counts = pulled.counts || e->name == "count";
        }
        auto out = std::make_shared<PlanNode>(*node);
        out->inputs = {input};
        pulled.scalar_aggregate = pulled.scalar_aggregate || node->group_keys.empty();
        for (ExprPtr& key : pulled.inner) {
          const int index = static_cast<int>(out->group_keys.size());
          out->group_keys.push_back(key);
          OutputColumn column{.binding = {node->table_index, index}, .name = "?key?", .type = key->type};
          out->output.push_back(column);
          key = column_ref(column);
        }
        return out;
      }
      default: return nullptr;
    }
  }

  // EXISTS with a condition beyond key equalities: the left rows that have a
  // partner satisfying it are found by joining, then matched back to the
  // left side by a whole-row fingerprint (which, unlike join keys, matches
  // NULLs): Semi = L semi-join distinct(fingerprints of filter_p(L join_k R)).
  Lowered lower_semi_join_with_residual(const PlanNode& node, const Lowered& lkeyed,
                                        const std::vector<std::uint32_t>& lcols, const Lowered& rkeyed,
                                        const std::vector<std::uint32_t>& rcols, const EquiKeys& keys) {
    if (node.null_aware) {
      throw not_supported("NOT IN over a correlated subquery with conditions other than equalities",
                          keys.residual[0]->location);
    }
    const auto fingerprint_at = static_cast<std::uint32_t>(lkeyed.layout.size());
    std::vector<Projection> with_fingerprint = engine::identity_projection(fingerprint_at);
    with_fingerprint.push_back(Projection::of_expr(std::make_shared<RowFingerprint>(fingerprint_at)));
    Lowered marked = lkeyed;
    marked.node = dataflow_.add<engine::MapFilter>({lkeyed.node}, nullptr, std::move(with_fingerprint));
    marked.layout.push_back(synthetic());

    engine::JoinSpec spec;
    spec.left_key = lcols;
    spec.right_key = rcols;
    spec.left_arity = static_cast<std::uint32_t>(marked.layout.size());
    spec.right_arity = static_cast<std::uint32_t>(rkeyed.layout.size());
    Lowered joined;
    joined.node = engine::add_join(dataflow_, marked.node, rkeyed.node, spec);
    joined.layout = marked.layout;
    joined.layout.insert(joined.layout.end(), rkeyed.layout.begin(), rkeyed.layout.end());
    Lowered matched = filtered(joined, conjunction(keys.residual));
    NodeId fingerprints = dataflow_.add<engine::MapFilter>(
        {matched.node}, nullptr, std::vector<Projection>{Projection::of_column(fingerprint_at)});
    fingerprints = dataflow_.add<engine::Distinct>({fingerprints});

    engine::SemiJoinSpec semi;
    semi.kind =
        node.join_type == JoinType::Semi ? engine::SemiJoinKind::Exists : engine::SemiJoinKind::NotExists;
    semi.left_key = {fingerprint_at};
    semi.right_key = {0};
    Lowered out;
    out.node = engine::add_semi_join(dataflow_, marked.node, fingerprints, semi);
    out.layout = marked.layout;
    return finish(node, out);
  }

  static ExprPtr conjunction(const std::vector<ExprPtr>& parts) {
    if (parts.size() == 1) return parts[0];
    auto all = std::make_shared<Expr>();
    all->kind = ExprKind::Bool;
    all->bool_op = BoolOp::And;
    all->type = parts[0]->type;
    all->args = parts;
    return all;
  }

  // ---- aggregates ------------------------------------------------------------

  static std::optional<engine::AggregateKind> aggregate_kind(const Expr& e) {
    using K = engine::AggregateKind;
    static const std::map<std::string, K> kinds = {
        {"count", K::Count},
        {"sum", K::Sum},
        {"avg", K::Avg},
        {"min", K::Min},
        {"max", K::Max},
        {"bool_and", K::BoolAnd},
        {"every", K::BoolAnd},
        {"bool_or", K::BoolOr},
        {"bit_and", K::BitAnd},
        {"bit_or", K::BitOr},
        {"bit_xor", K::BitXor},
        {"string_agg", K::StringAgg},
        {"array_agg", K::ArrayAgg},
        {"json_agg", K::JsonAgg},
        {"jsonb_agg", K::JsonAgg},
        {"var_pop", K::VarPop},
        {"var_samp", K::VarSamp},
        {"variance", K::VarSamp},
        {"stddev_pop", K::StddevPop},
        {"stddev_samp", K::StddevSamp},
        {"stddev", K::StddevSamp},
        {"mode", K::Mode},
        {"percentile_disc", K::PercentileDisc},
        {"percentile_cont", K::PercentileCont},
        {"json_object_agg", K::JsonObjectAgg},
        {"jsonb_object_agg", K::JsonbObjectAgg},
        {"corr", K::Corr},
        {"covar_pop", K::CovarPop},
        {"covar_samp", K::CovarSamp},
        {"regr_slope", K::RegrSlope},
        {"regr_intercept", K::RegrIntercept},
        {"regr_r2", K::RegrR2},
        {"regr_count", K::RegrCount},
        {"regr_avgx", K::RegrAvgX},
        {"regr_avgy", K::RegrAvgY},
        {"regr_sxx", K::RegrSxx},
        {"regr_sxy", K::RegrSxy},
        {"regr_syy", K::RegrSyy},
    };
    if (e.evaluation != Evaluation::Native) return std::nullopt;
    if (e.name == "count" && (e.agg_star || e.args.empty())) return K::CountStar;
    auto it = kinds.find(e.name);
    if (it == kinds.end()) return std::nullopt;
    return it->second;
  }

  // The value expression of an aggregate (the WITHIN GROUP key for ordered-set ones).
  static ExprPtr aggregate_value(const Expr& e) {
    if (e.within_group) return e.order_by.empty() ? nullptr : e.order_by[0].expr;
    return e.args.empty() ? nullptr : e.args[0];
  }

  static bool takes_two_arguments(const Expr& e) {
    return e.name == "json_object_agg" || e.name == "jsonb_object_agg" || e.name == "corr" ||
           e.name.rfind("covar_", 0) == 0 || e.name.rfind("regr_", 0) == 0;
  }

  // A constant one-dimensional array of fractions ('{0.25,0.5,NULL}').
  std::optional<std::vector<std::optional<double>>> constant_fractions(const Expr& e) {
    std::optional<std::string> text = constant_text(*e.args[0]);
    if (!text || text->size() < 2 || text->front() != '{' || text->back() != '}') return std::nullopt;
    std::vector<std::optional<double>> out;
    const std::string body = text->substr(1, text->size() - 2);
    if (body.find('{') != std::string::npos) return std::nullopt;  // multi-dimensional
    std::size_t at = 0;
    while (!body.empty()) {
      const std::size_t comma = body.find(',', at);
      const std::string item = body.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
      if (item == "NULL") {
        out.emplace_back();
      } else {
        out.emplace_back(std::strtod(item.c_str(), nullptr));
      }
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
    return out;
  }

  double constant_fraction(const Expr& e) {
    std::optional<std::string> text = e.args.empty() ? std::nullopt : constant_text(*e.args[0]);
    if (!text || text->front() == '{') return -1;  // arrays of fractions: not yet
    return std::strtod(text->c_str(), nullptr);
  }

  Lowered lower_aggregate(const PlanNode& node) { return lower_aggregate_over(node, lower(node.inputs[0])); }

  Lowered lower_aggregate_over(const PlanNode& node, const Lowered& in) {
    // Every key, argument, FILTER and ORDER BY becomes a column of the input.
    std::vector<ExprPtr> needed = node.group_keys;
    struct AggColumns {
      int value = -1;
      int second = -1;
      int filter = -1;
      int order = -1;
    };
    std::vector<AggColumns> agg_columns(node.aggregates.size());
    for (std::size_t a = 0; a < node.aggregates.size(); ++a) {
      const Expr& e = *node.aggregates[a];
      if (e.kind == ExprKind::Grouping) continue;
      if (ExprPtr value = aggregate_value(e)) {
        agg_columns[a].value = static_cast<int>(needed.size());
        needed.push_back(value);
      }
      if (takes_two_arguments(e) && e.args.size() == 2) {
        agg_columns[a].second = static_cast<int>(needed.size());
        needed.push_back(e.args[1]);
      }
      if (e.filter) {
        agg_columns[a].filter = static_cast<int>(needed.size());
        needed.push_back(e.filter);
      }
      if (!e.within_group && !e.order_by.empty()) {
        agg_columns[a].order = static_cast<int>(needed.size());
        needed.push_back(e.order_by[0].expr);
      }
    }
    auto [extended, columns] = columns_for(in, needed);

    std::vector<engine::AggregateSpec> specs;
    for (std::size_t a = 0; a < node.aggregates.size(); ++a) {
      const Expr& e = *node.aggregates[a];
      if (e.kind == ExprKind::Grouping) continue;
      std::optional<engine::AggregateKind> kind = aggregate_kind(e);
      if (!kind) throw not_supported("the aggregate " + e.name + "()", e.location);
      engine::AggregateSpec spec;
      spec.kind = *kind;
      const engine::Collation* collation = nullptr;  // this aggregate's text ordering
      spec.distinct = e.agg_distinct;
      if (agg_columns[a].value >= 0) {
        const ExprPtr value = aggregate_value(e);
        spec.column = columns[static_cast<std::size_t>(agg_columns[a].value)];
        spec.input = engine::kind_for_type_oid(value->type.oid);
        // min/max, DISTINCT and the collecting aggregates order values by their collation.
        if (value->type.collation != 0) use_collation(collation, *value, e.location);
      }
      if (agg_columns[a].second >= 0) {
        spec.column2 = static_cast<std::int32_t>(columns[static_cast<std::size_t>(agg_columns[a].second)]);
      }
      if (agg_columns[a].filter >= 0) {
        spec.filter_column =
            static_cast<std::int32_t>(columns[static_cast<std::size_t>(agg_columns[a].filter)]);
      }
      if (agg_columns[a].order >= 0) {
        if (e.order_by.size() > 1) {
          throw not_supported("an aggregate ORDER BY with more than one key", e.order_by[1].expr->location);
        }
        if (e.order_by[0].expr->type.collation != 0) {
          use_collation(collation, *e.order_by[0].expr, e.order_by[0].expr->location);
        }
        spec.order_column =
            static_cast<std::int32_t>(columns[static_cast<std::size_t>(agg_columns[a].order)]);
        spec.order_descending = e.order_by[0].descending;
      }
      if (spec.kind == engine::AggregateKind::StringAgg) {
        std::optional<std::string> delimiter = e.args.size() < 2 ? std::nullopt : constant_text(*e.args[1]);
        if (!delimiter)
          throw not_supported("string_agg() with a delimiter that is not a constant", e.location);
        spec.delimiter = *delimiter;
      }
      if (spec.kind == engine::AggregateKind::PercentileCont ||
          spec.kind == engine::AggregateKind::PercentileDisc) {
        if (!e.args.empty() && (engine::kind_for_type_oid(e.args[0]->type.oid) == DatumKind::Array ||
                                engine::array_element_oid(e.args[0]->type.oid) != 0)) {
          std::optional<std::vector<std::optional<double>>> fractions = constant_fractions(e);
          if (!fractions)
            throw not_supported(e.name + "() with fractions that are not a constant array", e.location);
          spec.fraction_array = true;
          spec.fractions = std::move(*fractions);
        } else if (spec.fraction = constant_fraction(e); spec.fraction < 0 || spec.fraction > 1) {
          throw not_supported(e.name + "() with a fraction that is not a constant between 0 and 1",
                              e.location);
        }
      }
      spec.collation = collation;
      specs.push_back(std::move(spec));
    }

    // One Reduce per grouping set (one for plain GROUP BY), concatenated.
    std::vector<std::vector<int>> sets = node.grouping_sets;
    if (sets.empty()) {
      std::vector<int> all(node.group_keys.size());
      for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int>(i);
      sets.push_back(all);
    }
    // Output layout: keys (node.table_index, i), then aggregates in node order.
    std::vector<ColumnBinding> layout;
    std::vector<ColumnBinding> key_bindings(node.group_keys.size());
    std::vector<ColumnBinding> agg_bindings(node.aggregates.size());
    for (const OutputColumn& column : node.output) {
      if (column.binding.table == node.table_index) {
        key_bindings[static_cast<std::size_t>(column.binding.column)] = column.binding;
      } else {
        agg_bindings[static_cast<std::size_t>(column.binding.column)] = column.binding;
      }
    }
    for (std::size_t i = 0; i < node.group_keys.size(); ++i) {
      if (key_bindings[i].table == -1) key_bindings[i] = synthetic();
      layout.push_back(key_bindings[i]);
    }
    for (std::size_t a = 0; a < node.aggregates.size(); ++a) {
      if (agg_bindings[a].table == -1) agg_bindings[a] = synthetic();
      layout.push_back(agg_bindings[a]);
    }

    std::vector<NodeId> parts;
    for (const std::vector<int>& set : sets) {
      engine::ReduceSpec spec;
      for (int k : set) spec.group_key.push_back(columns[static_cast<std::size_t>(k)]);
      spec.aggregates = specs;
      // A set of no keys is a scalar aggregate: Reduce emits its one row even over no input.
      NodeId reduced = dataflow_.add<engine::Reduce>({extended.node}, std::move(spec));
      // Reduce emits the set's keys then the aggregates; rearrange to the layout.
      std::vector<Projection> projections;
      for (std::size_t k = 0; k < node.group_keys.size(); ++k) {
        auto at = std::find(set.begin(), set.end(), static_cast<int>(k));
        if (at == set.end()) {
          projections.push_back(Projection::of_expr(std::make_shared<NullValue>()));
        } else {
          projections.push_back(Projection::of_column(static_cast<std::uint32_t>(at - set.begin())));
        }
      }
      std::uint32_t next = static_cast<std::uint32_t>(set.size());
      for (std::size_t a = 0; a < node.aggregates.size(); ++a) {
        const Expr& e = *node.aggregates[a];
        if (e.kind != ExprKind::Grouping) {
          projections.push_back(Projection::of_column(next++));
          continue;
        }
        std::int32_t bits = 0;
        for (const ExprPtr& arg : e.args) {
          bits <<= 1;
          int key = -1;
          for (std::size_t k = 0; k < node.group_keys.size(); ++k) {
            if (same_expr(*node.group_keys[k], *arg)) key = static_cast<int>(k);
          }
          if (key < 0 && arg->kind == ExprKind::Column) {
            for (std::size_t k = 0; k < key_bindings.size(); ++k) {
              if (key_bindings[k] == arg->binding) key = static_cast<int>(k);
            }
          }
          if (key < 0)
            throw not_supported("GROUPING() of an expression that is not a group key", arg->location);
          if (std::find(set.begin(), set.end(), key) == set.end()) bits |= 1;
        }
        projections.push_back(Projection::of_expr(std::make_shared<Int4Value>(bits)));
      }
      parts.push_back(dataflow_.add<engine::MapFilter>({reduced}, nullptr, std::move(projections)));
    }
    Lowered out;
    out.node = parts.size() == 1 ? parts[0] : dataflow_.add<engine::Concat>(parts);
    out.layout = layout;
    return finish(node, out, /*rescale=*/true);
  }

  // ---- window functions ------------------------------------------------------

  // PostgreSQL's FRAMEOPTION_* bits and constant offsets onto the engine's frame.
  void set_frame(const WindowSpec& window, engine::WindowSpec& spec, int location) {
    const int frame = window.frame_options;
    spec.frame = (frame & kFrameRows) != 0     ? engine::WindowFrame::Rows
                 : (frame & kFrameGroups) != 0 ? engine::WindowFrame::Groups
                                               : engine::WindowFrame::Range;
    if ((frame & (kFrameEndUnboundedPreceding | kFrameStartUnboundedFollowing)) != 0) {
      throw not_supported("this window frame", location);  // PostgreSQL's parser rejects these
    }
    auto bound = [&](bool start, const ExprPtr& offset) -> engine::FrameBound {
      const int unbounded = start ? kFrameStartUnboundedPreceding : kFrameEndUnboundedFollowing;
      const int current = start ? kFrameStartCurrentRow : kFrameEndCurrentRow;
      const int preceding = start ? kFrameStartOffsetPreceding : kFrameEndOffsetPreceding;
      const int following = start ? kFrameStartOffsetFollowing : kFrameEndOffsetFollowing;
      if ((frame & unbounded) != 0) {
        return start ? engine::FrameBound::unbounded_preceding() : engine::FrameBound::unbounded_following();
      }
      if ((frame & current) != 0) return engine::FrameBound::current_row();
      if ((frame & (preceding | following)) == 0) {
        return start ? engine::FrameBound::unbounded_preceding() : engine::FrameBound::current_row();
      }
      engine::FrameBound b;
      b.kind =
          (frame & preceding) != 0 ? engine::FrameBoundKind::Preceding : engine::FrameBoundKind::Following;
      if (!offset) throw not_supported("a window frame offset", location);
      if (spec.frame == engine::WindowFrame::Range) {
        if (window.order_by.size() != 1) {
          throw not_supported("RANGE with an offset over other than one ORDER BY column", location);
        }
        b.value = range_offset(*offset, *window.order_by[0].expr, location);
      } else {
        std::optional<std::string> text = constant_text(*offset);
        if (!text) throw not_supported("a window frame offset that is not a constant", offset->location);
        b.offset = std::stoll(*text);
        if (b.offset < 0) {
          throw Error(ErrorKind::Database,
                      start ? "frame starting offset must not be negative"
                            : "frame ending offset must not be negative",
                      {.sqlstate = "22013", .detail = "", .hint = ""});
        }
      }
      return b;
    };
    spec.frame_start = bound(true, window.frame_start);
    spec.frame_end = bound(false, window.frame_end);
    spec.exclusion = (frame & kFrameExcludeCurrentRow) != 0 ? engine::FrameExclusion::CurrentRow
                     : (frame & kFrameExcludeGroup) != 0    ? engine::FrameExclusion::Group
                     : (frame & kFrameExcludeTies) != 0     ? engine::FrameExclusion::Ties
                                                            : engine::FrameExclusion::NoOthers;
    if (spec.frame == engine::WindowFrame::Range &&
        (spec.frame_start.kind == engine::FrameBoundKind::Preceding ||
         spec.frame_start.kind == engine::FrameBoundKind::Following ||
         spec.frame_end.kind == engine::FrameBoundKind::Preceding ||
         spec.frame_end.kind == engine::FrameBoundKind::Following) &&
        window.order_by.size() != 1) {
      throw not_supported("RANGE with an offset over other than one ORDER BY column", location);
    }
  }

  // A RANGE offset as the engine takes it: one datum of the kind that
  // in_range() of the ORDER BY column's type takes (int8 for integers,
  // numeric, float8, interval for dates and times). The offset is a constant,
  // often an untyped literal: its text is read as that type.
  engine::Row range_offset(const Expr& offset, const Expr& order_key, int location) {
    std::optional<std::string> text = constant_text(offset);
    if (!text) throw not_supported("a window frame offset that is not a constant", location);
    engine::RowPacker out;
    try {
      switch (engine::kind_for_type_oid(order_key.type.oid)) {
        case DatumKind::Int2:
        case DatumKind::Int4:
        case DatumKind::Int8: out.push_int8(std::stoll(*text)); break;
        case DatumKind::Numeric: engine::parse_datum(engine::type_oid::kNumeric, *text, out); break;
        case DatumKind::Float4:
        case DatumKind::Float8: engine::parse_datum(engine::type_oid::kFloat8, *text, out); break;
        case DatumKind::Date:
        case DatumKind::Time:
        case DatumKind::Timestamp:
        case DatumKind::TimestampTz: engine::parse_datum(engine::type_oid::kInterval, *text, out); break;
        default: throw not_supported("RANGE with an offset over this ORDER BY type", location);
      }
    } catch (const std::invalid_argument&) {
      throw not_supported("this RANGE offset", location);
    } catch (const Error& error) {
      if (error.kind() == ErrorKind::Unsupported) throw;
      throw not_supported("this RANGE offset (write it as PostgreSQL prints it, e.g. '1 day' or '01:00:00')",
                          location);
    }
    engine::DatumRef d = out.row().at(0);
    const bool negative = (d.kind() == DatumKind::Int8 && d.as_int() < 0) ||
                          (d.kind() == DatumKind::Numeric && d.as_numeric().negative()) ||
                          (d.kind() == DatumKind::Float8 && d.as_float8() < 0);
    if (negative) {
      throw Error(ErrorKind::Database, "invalid preceding or following size in window function",
                  {.sqlstate = "22013", .detail = "", .hint = ""});
    }
    return engine::Row(out.row());
  }

  Lowered lower_window(const PlanNode& node) {
    Lowered in = lower(node.inputs[0]);
    const WindowSpec& window = *node.window_functions.front()->window;
    std::vector<ExprPtr> needed = window.partition_by;
    for (const SortKey& key : window.order_by) needed.push_back(key.expr);
    std::vector<int> value_at(node.window_functions.size(), -1);
    std::vector<int> filter_at(node.window_functions.size(), -1);
    std::vector<int> default_at(node.window_functions.size(), -1);
    for (std::size_t f = 0; f < node.window_functions.size(); ++f) {
      const Expr& e = *node.window_functions[f];
      if (!e.args.empty() && e.name != "ntile") {
        value_at[f] = static_cast<int>(needed.size());
        needed.push_back(e.args[0]);
      }
      if (e.filter) {
        filter_at[f] = static_cast<int>(needed.size());
        needed.push_back(e.filter);
      }
      if ((e.name == "lag" || e.name == "lead") && e.args.size() == 3) {
        default_at[f] = static_cast<int>(needed.size());
        needed.push_back(e.args[2]);
      }
    }
    auto [extended, columns] = columns_for(in, needed);
    engine::WindowSpec spec;
    set_frame(window, spec, node.window_functions.front()->location);
    const std::size_t parts = window.partition_by.size();
    for (std::size_t i = 0; i < parts; ++i) spec.partition.push_back(columns[i]);
    std::vector<std::uint32_t> order_columns(
        columns.begin() + static_cast<std::ptrdiff_t>(parts),
        columns.begin() + static_cast<std::ptrdiff_t>(parts + window.order_by.size()));
    const engine::Collation* collation = nullptr;
    spec.order = sort_keys(window.order_by, order_columns, collation);
    for (std::size_t f = 0; f < node.window_functions.size(); ++f) {
      const Expr& e = *node.window_functions[f];
      engine::WindowFunction fn;
      const std::uint32_t value = value_at[f] >= 0 ? columns[static_cast<std::size_t>(value_at[f])] : 0;
      auto constant_argument = [&](std::size_t i, std::int64_t fallback) -> std::int64_t {
        if (e.args.size() <= i) return fallback;
        const Expr& arg = *e.args[i];
        std::optional<std::string> text = constant_text(arg);
        if (!text) throw not_supported("a window function argument that is not a constant", arg.location);
        return std::stoll(*text);
      };
      if (e.name == "row_number") {
        fn.kind = engine::WindowFunctionKind::RowNumber;
      } else if (e.name == "rank") {
        fn.kind = engine::WindowFunctionKind::Rank;
      } else if (e.name == "dense_rank") {
        fn.kind = engine::WindowFunctionKind::DenseRank;
      } else if (e.name == "ntile") {
        fn.kind = engine::WindowFunctionKind::Ntile;
        fn.argument = constant_argument(0, 1);
        if (fn.argument <= 0) throw not_supported("ntile() with a bucket count below 1", e.location);
      } else if (e.name == "lag" || e.name == "lead") {
        fn.kind = e.name == "lag" ? engine::WindowFunctionKind::Lag : engine::WindowFunctionKind::Lead;
        fn.column = value;
        fn.argument = constant_argument(1, 1);
        if (default_at[f] >= 0) {
          fn.default_column = static_cast<std::int32_t>(columns[static_cast<std::size_t>(default_at[f])]);
        }
      } else if (e.name == "percent_rank") {
        fn.kind = engine::WindowFunctionKind::PercentRank;
      } else if (e.name == "cume_dist") {
        fn.kind = engine::WindowFunctionKind::CumeDist;
      } else if (e.name == "nth_value") {
        fn.kind = engine::WindowFunctionKind::NthValue;
        fn.column = value;
        fn.argument = constant_argument(1, 1);
        if (fn.argument <= 0) throw not_supported("nth_value() with n below 1", e.location);
      } else if (e.name == "first_value" || e.name == "last_value") {
        fn.kind = e.name == "first_value" ? engine::WindowFunctionKind::FirstValue
                                          : engine::WindowFunctionKind::LastValue;
        fn.column = value;
      } else {
        std::optional<engine::AggregateKind> kind = aggregate_kind(e);
        if (!kind || e.agg_distinct || !e.order_by.empty()) {
          throw not_supported("the window function " + e.name + "()", e.location);
        }
        fn.kind = engine::WindowFunctionKind::Aggregate;
        fn.aggregate.kind = *kind;
        if (filter_at[f] >= 0) {
          fn.aggregate.filter_column =
              static_cast<std::int32_t>(columns[static_cast<std::size_t>(filter_at[f])]);
        }
        if (!e.args.empty()) {
          fn.aggregate.column = value;
          fn.aggregate.input = engine::kind_for_type_oid(e.args[0]->type.oid);
          if (e.args[0]->type.collation != 0 &&
              (*kind == engine::AggregateKind::Min || *kind == engine::AggregateKind::Max)) {
            use_collation(collation, *e.args[0], e.location);
          }
        }
      }
      spec.functions.push_back(fn);
    }
    spec.collation = collation != nullptr ? collation : &engine::c_collation();
    Lowered out;
    out.node = dataflow_.add<engine::Window>({extended.node}, std::move(spec));
    out.layout = extended.layout;
    const std::size_t base = node.inputs[0]->output.size();
    for (std::size_t f = 0; f < node.window_functions.size(); ++f)
      out.layout.push_back(node.output[base + f].binding);
    return finish(node, out);
  }

  // ---- DISTINCT, set operations, top-k ---------------------------------------

  Lowered lower_distinct(const PlanNode& node) {
    Lowered in = lower(node.inputs[0]);
    if (node.distinct_on.empty()) {
      Lowered out = in;
      out.node = dataflow_.add<engine::Distinct>({in.node});
      return finish(node, out, /*rescale=*/true);
    }
    std::vector<ExprPtr> needed = node.distinct_on;
    for (const SortKey& key : node.sort_keys) needed.push_back(key.expr);
    auto [extended, columns] = columns_for(in, needed);
    engine::TopKSpec spec;
    spec.partition.assign(columns.begin(),
                          columns.begin() + static_cast<std::ptrdiff_t>(node.distinct_on.size()));
    std::vector<std::uint32_t> order(columns.begin() + static_cast<std::ptrdiff_t>(node.distinct_on.size()),
                                     columns.end());
    const engine::Collation* collation = nullptr;
    spec.order = sort_keys(node.sort_keys, order, collation);
    spec.collation = collation != nullptr ? collation : &engine::c_collation();
    spec.limit = 1;
    Lowered out = extended;
    out.node = dataflow_.add<engine::TopK>({extended.node}, std::move(spec));
    return finish(node, out);
  }

  Lowered lower_set_op(const PlanNode& node) {
    std::vector<Lowered> inputs;
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
      Lowered in = lower(node.inputs[i]);
      // Branches are positional: keep each branch's own output columns only.
      std::vector<ColumnBinding> want;
      for (const OutputColumn& column : node.inputs[i]->output) want.push_back(column.binding);
      inputs.push_back(project_to(in, want, node.inputs[i]->output));
    }
    Lowered out;
    for (const OutputColumn& column : node.output) out.layout.push_back(column.binding);
    if (node.set_op == SetOpKind::Union) {
      std::vector<NodeId> parts;
      parts.reserve(inputs.size());
      for (const Lowered& in : inputs) parts.push_back(in.node);
      out.node = dataflow_.add<engine::Concat>(parts);
      if (!node.all) out.node = dataflow_.add<engine::Distinct>({out.node});
      return node.all ? out : finish(node, out, /*rescale=*/true);
    }
    if (inputs.size() != 2)
      throw Error(ErrorKind::Internal, "lowering: INTERSECT/EXCEPT with other than two inputs");
    engine::SetOperationKind kind =
        node.set_op == SetOpKind::Intersect
            ? (node.all ? engine::SetOperationKind::IntersectAll : engine::SetOperationKind::Intersect)
            : (node.all ? engine::SetOperationKind::ExceptAll : engine::SetOperationKind::Except);
    out.node = dataflow_.add<engine::SetOperation>({inputs[0].node, inputs[1].node}, kind);
    return finish(node, out, /*rescale=*/true);
  }

  Lowered lower_top_k(const PlanNode& node) {
    Lowered in = lower(node.inputs[0]);
    // An ORDER BY kept only to order an ARRAY(subquery) selects every row.
    if (!node.limit && node.offset == 0 && !node.with_ties) return finish(node, in);
    std::vector<ExprPtr> needed = node.partition_by;
    for (const SortKey& key : node.sort_keys) needed.push_back(key.expr);
    auto [extended, columns] = columns_for(in, needed);
    engine::TopKSpec spec;
    const engine::Collation* collation = nullptr;
    const auto parts = static_cast<std::ptrdiff_t>(node.partition_by.size());
    spec.partition.assign(columns.begin(), columns.begin() + parts);
    spec.order = sort_keys(node.sort_keys, std::vector<std::uint32_t>(columns.begin() + parts, columns.end()),
                           collation);
    spec.collation = collation != nullptr ? collation : &engine::c_collation();
    if (node.limit) spec.limit = static_cast<std::uint64_t>(std::max<std::int64_t>(*node.limit, 0));
    spec.with_ties = node.with_ties;
    spec.offset = static_cast<std::uint64_t>(std::max<std::int64_t>(node.offset, 0));
    Lowered out = extended;
    out.node = dataflow_.add<engine::TopK>({extended.node}, std::move(spec));
    return finish(node, out);
  }

  // ---- set-returning functions -----------------------------------------------

  // A FunctionScan, over `left` when it is LATERAL (left's columns come first).
  Lowered lower_function_scan(const PlanNode& node, const Lowered* left) {
    if (node.exprs.size() != 1) throw not_supported("ROWS FROM with several functions", -1);
    const Expr& call = *node.exprs[0];
    Lowered in;
    if (left != nullptr) {
      in = *left;
    } else {
      engine::ZSet one;
      engine::RowPacker empty;
      one.add(empty.row(), 1);
      in.node = dataflow_.add<engine::Constant>({}, std::move(one));
    }
    const bool native_unnest = call.name == "unnest" && call.args.size() == 1 &&
                               engine::kind_for_type_oid(call.type.oid) != DatumKind::PassThrough;
    const bool native_series = call.name == "generate_series" && call.args.size() == 2 &&
                               is_integer(engine::kind_for_type_oid(call.type.oid));
    Lowered out;
    if (call.evaluation == Evaluation::Native && !node.with_ordinality && (native_unnest || native_series)) {
      auto [extended, columns] = columns_for(in, call.args);
      std::shared_ptr<const engine::TableFunction> function;
      if (native_unnest) {
        function = std::make_shared<engine::Unnest>(columns[0]);
      } else {
        function = std::make_shared<engine::GenerateSeries>(columns[0], columns[1]);
      }
      out.node = dataflow_.add<engine::FlatMap>({extended.node}, std::move(function));
      out.layout = extended.layout;
    } else {
      if (options_.server == nullptr) {
        throw not_supported("the set-returning function " + call.name + "()", call.location);
      }
      std::vector<Oid> types;
      for (const OutputColumn& column : node.output) types.push_back(column.type.oid);
      std::shared_ptr<const engine::BatchTableFunction> batch;
      try {
        batch = server_table_batch(*options_.server, call, node.with_ordinality, std::move(types), in.layout);
      } catch (const Error& error) {
        if (error.kind() != ErrorKind::Unsupported) throw;
        throw not_supported("the set-returning function " + call.name + "() over these arguments",
                            call.location);
      }
      out.node = dataflow_.add<engine::BatchFlatMap>({in.node}, std::move(batch));
      out.layout = in.layout;
    }
    for (const OutputColumn& column : node.output) out.layout.push_back(column.binding);
    return out;
  }

  const LogicalPlan& plan_;
  engine::Dataflow& dataflow_;
  const LoweringOptions& options_;
  std::map<Oid, LoweredSource> sources_;
  std::map<const PlanNode*, Lowered> memo_;
  int next_synthetic_ = 0;
  // A recursive term's lowerer: the enclosing one, the RecursiveUnion whose
  // rows WorkTableScan reads, and the inputs fed from the enclosing dataflow.
  Lowerer* parent_ = nullptr;
  int work_table_ = -1;
  NodeId recursive_source_ = 0;
  std::vector<NodeId> extra_sources_;
  std::vector<NodeId> extra_inputs_;
  int next_table_ = 1 << 24;  // table indexes of columns added by rewrites
  bool reordering_ = false;   // lowering a join tree already put in order
};

}  // namespace

LoweredQuery lower(const LogicalPlan& plan, engine::Dataflow& dataflow, const LoweringOptions& options) {
  return Lowerer(plan, dataflow, options).run();
}

}  // namespace pgstream::sql
