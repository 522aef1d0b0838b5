#include "pgstream/engine/operators/set_operation.hpp"

#include <algorithm>

namespace pgstream::engine {

std::int64_t SetOperation::result(const Counts& c) const {
  std::int64_t a = std::max<std::int64_t>(c.left, 0);
  std::int64_t b = std::max<std::int64_t>(c.right, 0);
  switch (kind_) {
    case SetOperationKind::Intersect: return a > 0 && b > 0 ? 1 : 0;
    case SetOperationKind::IntersectAll: return std::min(a, b);
    case SetOperationKind::Except: return a > 0 && b == 0 ? 1 : 0;
    case SetOperationKind::ExceptAll: return std::max<std::int64_t>(a - b, 0);
  }
  return 0;
}

void SetOperation::step(std::span<const ZSet* const> inputs, ZSet& output) {
  ++epoch_;
  touched_.clear();
  for (std::size_t side = 0; side < 2; ++side) {
    for (auto u : *inputs[side]) {
      auto found = rows_.find_or_insert(normalize_row(u.row, scratch_));
      if (found.id >= counts_.size()) counts_.resize(found.id + 1);
      if (found.inserted) counts_[found.id] = Counts();
      Counts& c = counts_[found.id];
      (side == 0 ? c.left : c.right) += u.weight;
      if (c.epoch != epoch_) {
        c.epoch = epoch_;
        touched_.push_back(found.id);
      }
    }
  }
  for (std::uint32_t id : touched_) {
    Counts& c = counts_[id];
    std::int64_t now = result(c);
    if (now != c.emitted) output.add(rows_.row(id), now - c.emitted);
    c.emitted = now;
    if (c.left == 0 && c.right == 0) rows_.erase(id);  // forgotten (emitted is 0 too)
  }
}

}  // namespace pgstream::engine
