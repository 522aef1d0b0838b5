// SetOperation: INTERSECT, INTERSECT ALL, EXCEPT, EXCEPT ALL of two inputs.
//
// Contract: rows are compared as SQL set operations do (NULLs equal each
// other, numeric by value). With a = multiplicity on the left and b on the
// right, a row appears min(a, b) times (INTERSECT ALL), max(a - b, 0) times
// (EXCEPT ALL), once if a > 0 and b > 0 (INTERSECT), once if a > 0 and b == 0
// (EXCEPT). Only rows touched in the epoch are re-evaluated. State: counts
// per distinct row present on either side; a row gone from both is forgotten.
#pragma once

#include <vector>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/engine/row_index.hpp"

namespace pgstream::engine {

enum class SetOperationKind : std::uint8_t { Intersect, IntersectAll, Except, ExceptAll };

class SetOperation final : public Operator {
 public:
  explicit SetOperation(SetOperationKind kind) : kind_(kind) {}
  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "set_operation"; }
  [[nodiscard]] std::size_t state_bytes() const override {
    return rows_.bytes() + counts_.capacity() * sizeof(Counts) + touched_.capacity() * sizeof(std::uint32_t);
  }

 private:
  struct Counts {
    std::int64_t left = 0;
    std::int64_t right = 0;
    std::int64_t emitted = 0;  // multiplicity currently in the output
    std::uint64_t epoch = 0;   // last epoch it was touched (dedups touched_)
  };
  [[nodiscard]] std::int64_t result(const Counts& c) const;

  SetOperationKind kind_;
  RowIndex rows_;
  std::vector<Counts> counts_;
  std::vector<std::uint32_t> touched_;
  std::uint64_t epoch_ = 0;
  RowPacker scratch_;
};

}  // namespace pgstream::engine
