// Test-only plans: one description, two evaluators. build() turns a plan
// into an incremental Dataflow; evaluate() computes the same plan from
// scratch over full source contents (the oracle the property tests trust).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/engine/evaluator.hpp"
#include "pgstream/engine/operators/flat_map.hpp"
#include "pgstream/engine/operators/join.hpp"
#include "pgstream/engine/operators/reduce.hpp"
#include "pgstream/engine/operators/semi_join.hpp"
#include "pgstream/engine/operators/set_operation.hpp"
#include "pgstream/engine/operators/top_k.hpp"
#include "pgstream/engine/operators/window.hpp"

namespace pgstream::engine::testing {

// A multiset of rows: row bytes -> multiplicity.
using Multiset = std::map<std::string, std::int64_t>;

std::string key_of(RowRef row);
RowRef row_of(const std::string& bytes);
void add_to(Multiset& set, RowRef row, std::int64_t weight);
std::string describe(const Multiset& set);

// Packs a row of int4 datums (std::nullopt: NULL) into `p`.
RowPacker& ints(RowPacker& p, std::initializer_list<std::optional<std::int32_t>> values);

// Accumulates a node's output across epochs, as a stream table would.
struct Sink {
  Multiset rows;
  void take(const Dataflow& df, NodeId node) {
    for (auto u : df.delta(node)) add_to(rows, u.row, u.weight);
  }
  [[nodiscard]] std::string str() const { return describe(rows); }
};

// `column <op> constant` over an integer column; NULL gives Unknown.
class CompareConst final : public Predicate {
 public:
  enum class Op : std::uint8_t { Less, Equal, Greater, NotEqual };
  CompareConst(std::uint32_t column, Op op, std::int64_t constant)
      : column_(column), op_(op), constant_(constant) {}
  [[nodiscard]] Truth test(RowRef input) const override;

 private:
  std::uint32_t column_;
  Op op_;
  std::int64_t constant_;
};

// `column + addend` over an integer column, as int8 (NULL stays NULL).
class AddConst final : public ScalarExpr {
 public:
  AddConst(std::uint32_t column, std::int64_t addend) : column_(column), addend_(addend) {}
  void evaluate(RowRef input, RowPacker& out) const override;

 private:
  std::uint32_t column_;
  std::int64_t addend_;
};

struct Plan {
  enum class Kind : std::uint8_t {
    Source,
    MapFilter,
    Concat,
    Distinct,
    Join,
    SemiJoin,
    Reduce,
    TopK,
    SetOperation,
    FlatMap,
    ScalarSubquery,
    Window
  };
  Kind kind = Kind::Source;
  std::uint32_t source = 0;  // Source
  std::vector<std::shared_ptr<Plan>> inputs;
  std::shared_ptr<const Predicate> predicate;  // MapFilter
  std::vector<Projection> projections;         // MapFilter
  JoinSpec join;
  SemiJoinSpec semi;
  ReduceSpec reduce;
  TopKSpec top_k;
  SetOperationKind set_kind = SetOperationKind::Intersect;
  std::shared_ptr<const TableFunction> table_function;  // FlatMap
  WindowSpec window;
  std::vector<DatumKind> columns;  // output column kinds

  [[nodiscard]] std::string describe() const;
};
using PlanPtr = std::shared_ptr<Plan>;

// Builds the incremental dataflow; sources[i] is the node of source i.
NodeId build(const Plan& plan, Dataflow& dataflow, const std::vector<NodeId>& sources);
// Computes the plan from scratch.
Multiset evaluate(const Plan& plan, const std::vector<Multiset>& sources);

}  // namespace pgstream::engine::testing
