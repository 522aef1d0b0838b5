// Concat: UNION ALL of any number of inputs with the same columns.
//
// Contract: linear and stateless; the output delta is the sum of the inputs'
// deltas. A negated input is subtracted instead (used to build differences).
#pragma once

#include <vector>

#include "pgstream/engine/dataflow.hpp"

namespace pgstream::engine {

class Concat final : public Operator {
 public:
  Concat() = default;
  // negate[i]: subtract input i instead of adding it.
  explicit Concat(std::vector<bool> negate) : negate_(std::move(negate)) {}

  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "concat"; }

 private:
  std::vector<bool> negate_;
};

}  // namespace pgstream::engine
