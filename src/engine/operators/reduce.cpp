#include "pgstream/engine/operators/reduce.hpp"

namespace pgstream::engine {

std::size_t Reduce::state_bytes() const {
  std::size_t total = keys_.bytes() + groups_.capacity() * sizeof(Group);
  for (const Accumulator& a : accumulators_) total += a.bytes();
  return total;
}

void Reduce::pack_output(std::uint32_t group, RowPacker& out) const {
  out.push_row(keys_.row(group));
  const std::size_t n = spec_.aggregates.size();
  for (std::size_t a = 0; a < n; ++a) accumulators_[group * n + a].finish(spec_.aggregates[a], out);
}

// Finds or creates the group; on its first touch this epoch, remembers its
// current output row so that it can be retracted.
std::uint32_t Reduce::touch(RowRef key) {
  auto found = keys_.find_or_insert(key);
  if (found.id >= groups_.size()) {
    groups_.resize(found.id + 1);
    accumulators_.resize(groups_.size() * spec_.aggregates.size());
  }
  if (found.inserted) groups_[found.id] = Group();  // a reused id's accumulators were reset
  Group& g = groups_[found.id];
  if (g.epoch != epoch_) {
    g.epoch = epoch_;
    touched_.push_back(found.id);
    before_index_.push_back(static_cast<std::uint32_t>(before_.size()));
    if (present(found.id) && !found.inserted) {
      out_.clear();
      pack_output(found.id, out_);
      before_.add(out_.row(), 1);
    } else {
      before_index_.back() = UINT32_MAX;  // nothing to retract
    }
  }
  return found.id;
}

void Reduce::step(std::span<const ZSet* const> inputs, ZSet& output) {
  ++epoch_;
  const ZSet& delta = *inputs[0];
  bool first_scalar = spec_.group_key.empty() && groups_.empty();
  if (delta.empty() && !first_scalar) return;
  touched_.clear();
  before_.clear();
  before_index_.clear();
  if (first_scalar) (void)touch(RowRef());
  const std::size_t n = spec_.aggregates.size();
  for (auto u : delta) {
    key_.clear();
    key_.pack_key(u.row, spec_.group_key);
    std::uint32_t g = touch(key_.row());
    groups_[g].rows += u.weight;
    for (std::size_t a = 0; a < n; ++a) {
      const AggregateSpec& aggregate = spec_.aggregates[a];
      accumulators_[g * n + a].add_row(
          aggregate, u.row, u.weight,
          aggregate.collation != nullptr ? *aggregate.collation : *spec_.collation);
    }
  }
  for (std::size_t i = 0; i < touched_.size(); ++i) {
    std::uint32_t g = touched_[i];
    RowRef old_row;
    bool had = before_index_[i] != UINT32_MAX;
    if (had) old_row = before_[before_index_[i]].row;
    if (present(g)) {
      out_.clear();
      pack_output(g, out_);
      if (had && out_.row() == old_row) continue;  // unchanged result
      output.add(out_.row(), 1);
    }
    if (had) output.add(old_row, -1);
    if (!present(g)) {
      // An empty group is forgotten: its accumulators' state (multisets of
      // min/max/DISTINCT, numeric sums) is released and its key erased.
      for (std::size_t a = 0; a < n; ++a) accumulators_[g * n + a] = Accumulator();
      if (groups_[g].rows == 0) keys_.erase(g);
    }
  }
}

}  // namespace pgstream::engine
