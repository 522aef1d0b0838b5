#include "pgstream/engine/operators/map_filter.hpp"

namespace pgstream::engine {

void MapFilter::step(std::span<const ZSet* const> inputs, ZSet& output) {
  for (auto u : *inputs[0]) {
    if (predicate_ && predicate_->test(u.row) != Truth::True) continue;
    if (projections_.empty()) {
      output.add(u.row, u.weight);
      continue;
    }
    packer_.clear();
    project_row(u.row, projections_, packer_);
    output.add(packer_.row(), u.weight);
  }
}

}  // namespace pgstream::engine
