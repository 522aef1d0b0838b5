#include "pgstream/engine/operators/constant.hpp"

namespace pgstream::engine {

void Constant::step(std::span<const ZSet* const> /*inputs*/, ZSet& output) {
  if (emitted_) return;
  output.add_all(rows_);
  rows_ = ZSet();
  emitted_ = true;
}

}  // namespace pgstream::engine
