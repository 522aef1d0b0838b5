// Iterate: the fixpoint of WITH RECURSIVE ... UNION (set semantics), exact
// under insertions and deletions.
//
// Contract: the result R is the least set with R = base ∪ step(R), where
// `step` is a dataflow of its own (its source `recursive` is R; its other
// sources mirror this operator's extra inputs, e.g. the edges table). The
// step must be monotone and distinct-free (joins, maps, filters, unions:
// what a recursive term may contain), so that a row's multiplicity in
// step(R) counts its derivations. Each epoch is maintained with DRed:
//   1. the extra inputs' deletions flow through the step alone; rows whose
//      support fell (a derivation lost, a base row deleted) are
//      over-deleted, and so, transitively, is everything derived from them;
//      then the extra inputs' insertions flow;
//   2. over-deleted rows that still have support are re-derived, new rows
//      with support are added, and both propagate semi-naively until no row
//      changes.
// Output: the exact change of R (each row once: the result is a set).
// Work is proportional to the rows affected, not to R. Errors of the step
// fail the epoch like any operator's.
#pragma once

#include <memory>
#include <vector>

#include "pgstream/engine/dataflow.hpp"

namespace pgstream::engine {

struct IterateSpec {
  std::unique_ptr<Dataflow> step;  // owned; built by the caller
  NodeId recursive = 0;            // the step's source that is R
  std::vector<NodeId> extra;       // the step's sources fed by inputs 1..n
  NodeId output = 0;               // the step's output node (marked as output)
};

class Iterate final : public Operator {
 public:
  explicit Iterate(IterateSpec spec);
  // inputs[0]: the base (non-recursive term); inputs[1..]: the extra inputs.
  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "iterate"; }
  [[nodiscard]] std::size_t state_bytes() const override;

 private:
  // Runs one step epoch with `delta` as R's change; folds its output into
  // support_ and returns it.
  const ZSet& run_step(const ZSet& delta);
  // Stages the deletions (or the insertions) of the extra inputs.
  void feed_extra(std::span<const ZSet* const> inputs, bool deletions);
  [[nodiscard]] bool supported(RowRef row) const {
    return support_.weight_of(row) + base_.weight_of(row) > 0;
  }

  IterateSpec spec_;
  Arrangement result_;   // R: every row with weight 1
  Arrangement support_;  // step(R): derivation counts
  Arrangement base_;     // the base term's rows
  ZSet frontier_;
  ZSet next_;
  ZSet candidates_;
  ZSet changes_;
};

}  // namespace pgstream::engine
