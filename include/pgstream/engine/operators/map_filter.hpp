// MapFilter: WHERE then SELECT-list projection over one input, row by row.
//
// Contract: linear (output weight = input weight), so it keeps no state: the
// delta of the output is the image of the input's delta. A row passes when
// the predicate is True (False and Unknown drop it, as WHERE does); with no
// predicate every row passes. The projections build the output row. Errors
// from expressions propagate (the epoch fails). Output is not consolidated.
#pragma once

#include <memory>
#include <vector>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/engine/evaluator.hpp"

namespace pgstream::engine {

class MapFilter final : public Operator {
 public:
  // predicate may be null (no WHERE); projections empty means "the row as is".
  MapFilter(std::shared_ptr<const Predicate> predicate, std::vector<Projection> projections)
      : predicate_(std::move(predicate)), projections_(std::move(projections)) {}

  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "map_filter"; }

 private:
  std::shared_ptr<const Predicate> predicate_;
  std::vector<Projection> projections_;
  RowPacker packer_;
};

}  // namespace pgstream::engine
