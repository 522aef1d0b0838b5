#include "pgstream/engine/operators/concat.hpp"

namespace pgstream::engine {

void Concat::step(std::span<const ZSet* const> inputs, ZSet& output) {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    bool negate = i < negate_.size() && negate_[i];
    output.add_all(*inputs[i], negate ? -1 : 1);
  }
}

}  // namespace pgstream::engine
