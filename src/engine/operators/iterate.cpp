#include "pgstream/engine/operators/iterate.hpp"

#include <algorithm>
#include <string>

#include "pgstream/common/error.hpp"

namespace pgstream::engine {

Iterate::Iterate(IterateSpec spec) : spec_(std::move(spec)), result_({}), support_({}), base_({}) {
  if (!spec_.step) throw Error(ErrorKind::Internal, "iterate without a step dataflow");
  spec_.step->output(spec_.output);
}

std::size_t Iterate::state_bytes() const {
  return result_.bytes() + support_.bytes() + base_.bytes() + spec_.step->state_bytes();
}

const ZSet& Iterate::run_step(const ZSet& delta) {
  spec_.step->input(spec_.recursive).add_all(delta);
  spec_.step->step();
  const ZSet& out = spec_.step->delta(spec_.output);
  support_.apply(out);
  return out;
}

void Iterate::feed_extra(std::span<const ZSet* const> inputs, bool deletions) {
  for (std::size_t i = 1; i < inputs.size(); ++i) {
    ZSet& staged = spec_.step->input(spec_.extra[i - 1]);
    for (auto u : *inputs[i]) {
      if ((u.weight < 0) == deletions) staged.add(u.row, u.weight);
    }
  }
}

void Iterate::step(std::span<const ZSet* const> inputs, ZSet& output) {
  bool any = false;
  for (const ZSet* in : inputs) any = any || !in->empty();
  if (!any) return;
  changes_.clear();
  if (spec_.kind == IterateKind::UnionAll) {
    step_bag(inputs);
  } else {
    step_set(inputs);
  }
  changes_.consolidate();
  output.add_all(changes_);
}

// UNION ALL: ΔR = D0 + D1 + ..., D0 = Δbase + (step'(R) - step(R)),
// D(k+1) = step'(Dk); the step dataflow keeps R (and the extra inputs) as
// arrangements, so feeding it Dk yields step'(Dk). Deletions (of the base
// and of the extra inputs) are applied and propagated first, insertions
// second: each intermediate state is a fixpoint PostgreSQL would reach, so
// an epoch that cuts a subtree off and closes a cycle inside it in one go
// (finite for PostgreSQL) never sends its rows around that cycle.
void Iterate::step_bag(std::span<const ZSet* const> inputs) {
  propagate_bag(inputs, /*deletions=*/true);
  propagate_bag(inputs, /*deletions=*/false);
}

void Iterate::propagate_bag(std::span<const ZSet* const> inputs, bool deletions) {
  feed_extra(inputs, deletions);
  spec_.step->step();
  frontier_.clear();
  for (auto u : *inputs[0]) {
    if ((u.weight < 0) == deletions) frontier_.add(u.row, u.weight);
  }
  frontier_.add_all(spec_.step->delta(spec_.output));
  std::uint64_t rounds = 0;
  std::uint64_t rows = 0;
  for (frontier_.consolidate(); !frontier_.empty(); frontier_.consolidate()) {
    for (auto u : frontier_) {
      std::uint64_t magnitude = u.weight < 0 ? 0 - static_cast<std::uint64_t>(u.weight) : u.weight;
      rows += std::min(magnitude, spec_.max_rows + 1);
    }
    if (rows > spec_.max_rows) {
      throw Error(
          ErrorKind::Database,
          "WITH RECURSIVE ... UNION ALL changed more than " + std::to_string(spec_.max_rows) +
              " rows in one epoch",
          {.sqlstate = "54001",
           .detail =
               "the recursion grows without converging (a cycle in the data?) or its result is too large",
           .hint = "use UNION instead of UNION ALL, or bound the depth in the recursive term"});
    }
    if (++rounds > spec_.max_iterations) {
      throw Error(ErrorKind::Database,
                  "WITH RECURSIVE ... UNION ALL did not finish within " +
                      std::to_string(spec_.max_iterations) + " iterations",
                  {.sqlstate = "54001",
                   .detail = "every iteration still produced rows: the data has a cycle, on which PostgreSQL "
                             "would loop forever",
                   .hint = "use UNION instead of UNION ALL, or bound the depth in the recursive term"});
    }
    changes_.add_all(frontier_);
    spec_.step->input(spec_.recursive).add_all(frontier_);
    spec_.step->step();
    frontier_.clear();
    frontier_.add_all(spec_.step->delta(spec_.output));
  }
}

void Iterate::step_set(std::span<const ZSet* const> inputs) {
  candidates_.clear();
  frontier_.clear();
  // 1. Deletions of the extra inputs flow first, alone: a row that loses
  // one derivation and gains another in the same epoch must still be
  // over-deleted (its new derivation may rest on rows about to go).
  feed_extra(inputs, /*deletions=*/true);
  const ZSet& lost_first = run_step(ZSet());
  for (auto u : lost_first) (u.weight < 0 ? frontier_ : candidates_).add(u.row, 1);
  base_.apply(*inputs[0]);
  for (auto u : *inputs[0]) (u.weight < 0 ? frontier_ : candidates_).add(u.row, 1);
  // Over-delete: remove the frontier from R, and whatever lost support by it.
  while (!frontier_.empty()) {
    next_.clear();
    frontier_.consolidate();
    for (auto u : frontier_) {
      if (result_.weight_of(u.row) == 0) continue;
      result_.update(u.row, -1);
      changes_.add(u.row, -1);
      candidates_.add(u.row, 1);
      next_.add(u.row, -1);
    }
    frontier_.clear();
    if (next_.empty()) break;
    const ZSet& lost = run_step(next_);
    for (auto u : lost) {
      if (u.weight < 0) frontier_.add(u.row, 1);
    }
  }
  // Then the insertions of the extra inputs, under the over-deleted R.
  feed_extra(inputs, /*deletions=*/false);
  const ZSet& gained = run_step(ZSet());
  for (auto u : gained) {
    if (u.weight > 0) candidates_.add(u.row, 1);
  }
  // 2. Re-derive and insert: every candidate that has support joins R, and
  // what it derives is considered next, until nothing new has support.
  std::swap(frontier_, candidates_);
  while (!frontier_.empty()) {
    next_.clear();
    frontier_.consolidate();
    for (auto u : frontier_) {
      if (result_.weight_of(u.row) != 0 || !supported(u.row)) continue;
      result_.update(u.row, 1);
      changes_.add(u.row, 1);
      next_.add(u.row, 1);
    }
    frontier_.clear();
    if (next_.empty()) break;
    const ZSet& derived = run_step(next_);
    for (auto u : derived) {
      if (u.weight > 0) frontier_.add(u.row, 1);
    }
  }
}

}  // namespace pgstream::engine
