#include "pgstream/engine/operators/reduce.hpp"

namespace pgstream::engine {
namespace {

// Aggregates of one class fold their input into the same state; finish()
// reads what its own kind needs (count(x) the count, avg the sum and count).
int state_class(AggregateKind kind) {
  switch (kind) {
    case AggregateKind::Count:
    case AggregateKind::Sum:
    case AggregateKind::Avg: return 1;
    case AggregateKind::Min:
    case AggregateKind::Max: return 2;
    case AggregateKind::VarPop:
    case AggregateKind::VarSamp:
    case AggregateKind::StddevPop:
    case AggregateKind::StddevSamp: return 3;
    default:
      if (kind >= AggregateKind::Corr && kind <= AggregateKind::RegrSyy) return 4;
      return 100 + static_cast<int>(kind);  // only the same kind
  }
}

// True when a and b fold the same rows into the same state.
bool same_state(const AggregateSpec& a, const AggregateSpec& b, const Collation* collation) {
  auto collation_of = [&](const AggregateSpec& s) {
    return s.collation != nullptr ? s.collation : collation;
  };
  return state_class(a.kind) == state_class(b.kind) && a.column == b.column && a.column2 == b.column2 &&
         a.input == b.input && a.distinct == b.distinct && a.filter_column == b.filter_column &&
         a.order_column == b.order_column && a.order_descending == b.order_descending &&
         collation_of(a) == collation_of(b);
}

}  // namespace

Reduce::Reduce(ReduceSpec spec) : spec_(std::move(spec)) {
  const std::vector<AggregateSpec>& aggregates = spec_.aggregates;
  state_of_.reserve(aggregates.size());
  for (std::size_t a = 0; a < aggregates.size(); ++a) {
    std::size_t s = 0;
    while (s < feeders_.size() && !same_state(aggregates[feeders_[s]], aggregates[a], spec_.collation)) ++s;
    if (s == feeders_.size()) {
      feeders_.push_back(a);
    } else if (aggregates[feeders_[s]].kind == AggregateKind::Count) {
      feeders_[s] = a;  // sum/avg feed count(x)'s state too, not the other way round
    }
    state_of_.push_back(s);
  }
}

std::size_t Reduce::state_bytes() const {
  std::size_t total = keys_.bytes() + groups_.capacity() * sizeof(Group) +
                      pages_.capacity() * sizeof(std::unique_ptr<Accumulator[]>);
  for (const auto& page : pages_) {
    for (std::size_t i = 0; i < kPageGroups * feeders_.size(); ++i) total += page[i].bytes();
  }
  return total;
}

void Reduce::pack_output(std::uint32_t group, RowPacker& out) const {
  out.push_row(keys_.row(group));
  for (std::size_t a = 0; a < spec_.aggregates.size(); ++a)
    state(group, state_of_[a]).finish(spec_.aggregates[a], out);
}

// Finds or creates the group; on its first touch this epoch, remembers its
// current output row so that it can be retracted.
std::uint32_t Reduce::touch(RowRef key) {
  auto found = keys_.find_or_insert(key);
  if (found.id >= groups_.size()) {
    groups_.resize(found.id + 1);
    while (pages_.size() * kPageGroups < groups_.size())
      pages_.push_back(std::make_unique<Accumulator[]>(kPageGroups * feeders_.size()));
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
  const std::size_t n = feeders_.size();
  for (auto u : delta) {
    key_.clear();
    key_.pack_key(u.row, spec_.group_key);
    std::uint32_t g = touch(key_.row());
    groups_[g].rows += u.weight;
    for (std::size_t s = 0; s < n; ++s) {
      const AggregateSpec& aggregate = spec_.aggregates[feeders_[s]];
      state(g, s).add_row(aggregate, u.row, u.weight,
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
      for (std::size_t s = 0; s < n; ++s) state(g, s) = Accumulator();
      if (groups_[g].rows == 0) keys_.erase(g);
    }
  }
}

}  // namespace pgstream::engine
