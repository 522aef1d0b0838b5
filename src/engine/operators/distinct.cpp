#include "pgstream/engine/operators/distinct.hpp"

namespace pgstream::engine {

void Distinct::step(std::span<const ZSet* const> inputs, ZSet& output) {
  for (auto u : *inputs[0]) {
    RowRef row = normalize_row(u.row, scratch_);
    auto found = rows_.find_or_insert(row);
    if (found.id >= counts_.size()) counts_.resize(found.id + 1);
    if (found.inserted) counts_[found.id] = 0;
    std::int64_t& count = counts_[found.id];
    bool before = count > 0;
    count += u.weight;
    bool after = count > 0;
    // Transitions within one epoch may go up and down; the output is
    // consolidated downstream, so +1 and -1 of the same row cancel.
    if (before != after) output.add(rows_.row(found.id), after ? 1 : -1);
    if (count == 0) rows_.erase(found.id);  // forgotten: a re-insert starts from 0
  }
}

}  // namespace pgstream::engine
