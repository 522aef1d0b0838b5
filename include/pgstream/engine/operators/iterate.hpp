// Iterate: the fixpoint of WITH RECURSIVE ... UNION (set semantics) or
// WITH RECURSIVE ... UNION ALL (bag semantics), exact under insertions and
// deletions.
//
// Contract: `step` is a dataflow of its own (its source `recursive` is R; its
// other sources mirror this operator's extra inputs, e.g. the edges table).
// The step must be distinct-free and use R once (joins, maps, filters,
// unions: what a recursive term may contain), so that it is linear in R
// and a row's multiplicity in step(R) counts its derivations.
//
// UNION: R is the least set with R = base ∪ step(R). Each epoch is
// maintained with DRed:
//   1. the extra inputs' deletions flow through the step alone; rows whose
//      support fell (a derivation lost, a base row deleted) are
//      over-deleted, and so, transitively, is everything derived from them;
//      then the extra inputs' insertions flow;
//   2. over-deleted rows that still have support are re-derived, new rows
//      with support are added, and both propagate semi-naively until no row
//      changes.
// Output: the exact change of R (each row once: the result is a set).
//
// UNION ALL: R = base + step(base) + step(step(base)) + ... as PostgreSQL's
// working-table loop computes it (e.g. one row per path of a DAG). As step
// is linear in R, the change is ΔR = D0 + D1 + ... with D0 = Δbase +
// (step'(R) - step(R)) (the extra inputs' change, under the old R) and
// D(k+1) = step'(Dk), the step dataflow's output when fed Dk: iterated until
// a Dk is empty. Where the data has a cycle PostgreSQL loops forever; here
// an epoch that needs more than `max_iterations` rounds, or whose rounds
// change more than `max_rows` rows in all, fails with SQLSTATE 54001
// (statement_too_complex), like any operator error: the dataflow is failed.
//
// Work is proportional to the rows affected, not to R. Errors of the step
// fail the epoch like any operator's.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "pgstream/engine/dataflow.hpp"

namespace pgstream::engine {

enum class IterateKind : std::uint8_t {
  Union,     // set semantics (DRed)
  UnionAll,  // bag semantics, bounded by max_iterations / max_rows
};

struct IterateSpec {
  std::unique_ptr<Dataflow> step;  // owned; built by the caller
  NodeId recursive = 0;            // the step's source that is R
  std::vector<NodeId> extra;       // the step's sources fed by inputs 1..n
  NodeId output = 0;               // the step's output node (marked as output)
  IterateKind kind = IterateKind::Union;
  // UNION ALL only: per epoch, at most this many rounds of the step, and
  // at most this many row changes (sum of |weight| over the rounds).
  std::uint64_t max_iterations = 10'000;
  std::uint64_t max_rows = 100'000'000;
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
  void step_set(std::span<const ZSet* const> inputs);
  void propagate_bag(std::span<const ZSet* const> inputs, bool deletions);
  void step_bag(std::span<const ZSet* const> inputs);
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
