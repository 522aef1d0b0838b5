// ScalarSubquery: an uncorrelated scalar subquery used as an expression,
// e.g. WHERE amount > (SELECT avg(amount) FROM orders).
//
// Contract: inputs are the outer collection and the subquery's one-column
// result. Output rows are the outer row followed by the subquery's value
// (NULL when the subquery returns no row). After every epoch the subquery
// must hold at most one row; more raises PostgreSQL's error 21000 ("more
// than one row returned by a subquery used as an expression") and fails the
// epoch. When the value is unchanged only the outer delta flows; when it
// changes every outer row is re-emitted (the outer side is arranged).
#pragma once

#include "pgstream/engine/dataflow.hpp"

namespace pgstream::engine {

class ScalarSubquery final : public Operator {
 public:
  // REQUIRES: outer is the arrangement of the outer input by no columns.
  explicit ScalarSubquery(const Arrangement* outer) : outer_(outer), subquery_({}) {}
  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "scalar_subquery"; }
  [[nodiscard]] std::size_t state_bytes() const override { return subquery_.bytes(); }

 private:
  // The current value as a one-datum row (a NULL datum when empty).
  void current_value(RowPacker& out) const;
  void emit(RowRef outer, RowRef value, std::int64_t weight, ZSet& output);

  const Arrangement* outer_;
  Arrangement subquery_;
  RowPacker before_;
  RowPacker after_;
  RowPacker out_;
};

NodeId add_scalar_subquery(Dataflow& dataflow, NodeId outer, NodeId subquery);

}  // namespace pgstream::engine
