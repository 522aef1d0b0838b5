// Constant: a collection that never changes (VALUES, a FROM-less SELECT).
//
// Contract: no inputs; the first step() emits the rows, every later step()
// emits nothing. Its state is the rows themselves, kept for state_bytes()
// only until they are emitted.
#pragma once

#include "pgstream/engine/dataflow.hpp"

namespace pgstream::engine {

class Constant final : public Operator {
 public:
  explicit Constant(ZSet rows) : rows_(std::move(rows)) {}

  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "constant"; }
  [[nodiscard]] std::size_t state_bytes() const override { return rows_.bytes(); }

 private:
  ZSet rows_;
  bool emitted_ = false;
};

}  // namespace pgstream::engine
