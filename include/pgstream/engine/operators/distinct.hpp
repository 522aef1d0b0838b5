// Distinct: SELECT DISTINCT / UNION (set semantics) of one input.
//
// Contract: keeps the multiplicity of every distinct row (rows compared
// with SQL's IS NOT DISTINCT FROM, numeric by value: the row is emitted in
// normalized form). Output: +1 when a row's multiplicity becomes positive,
// -1 when it returns to zero; nothing else changes the output. State: one
// count per distinct row present (O(1) update per input row); a row whose
// count returns to 0 is forgotten (RowIndex::erase).
#pragma once

#include <vector>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/engine/row_index.hpp"

namespace pgstream::engine {

class Distinct final : public Operator {
 public:
  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "distinct"; }
  [[nodiscard]] std::size_t state_bytes() const override {
    return rows_.bytes() + counts_.capacity() * sizeof(std::int64_t);
  }

 private:
  RowIndex rows_;
  std::vector<std::int64_t> counts_;
  RowPacker scratch_;
};

}  // namespace pgstream::engine
