// BatchMap: appends columns computed for a whole delta at once, for
// expressions evaluated outside the engine (by the server, in one round
// trip per epoch instead of one per row).
//
// Contract: stateless and linear, like MapFilter: each input row is emitted
// with its weight, followed by the datums the BatchFunction computed for it.
// The function sees each distinct row of the epoch's delta once (retractions
// and insertions of the same row share one evaluation) and must be
// deterministic (IMMUTABLE): a retraction must compute what the insertion
// computed. It reports SQL errors by throwing pgstream::Error, which fails
// the epoch. No call is made for an empty delta.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "pgstream/engine/dataflow.hpp"

namespace pgstream::engine {

class BatchFunction {
 public:
  virtual ~BatchFunction() = default;
  // Returns one row per input row, in order: the appended datums.
  [[nodiscard]] virtual std::vector<Row> evaluate(std::span<const RowRef> inputs) const = 0;
};

class BatchMap final : public Operator {
 public:
  explicit BatchMap(std::shared_ptr<const BatchFunction> function) : function_(std::move(function)) {}

  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "batch_map"; }

 private:
  std::shared_ptr<const BatchFunction> function_;
  ZSet distinct_;
  RowPacker out_;
};

// A set-returning function evaluated outside the engine, for a whole delta:
// BatchFlatMap emits each input row followed by each row the function
// generated for it (none: the input row disappears, as in a LATERAL join).
class BatchTableFunction {
 public:
  virtual ~BatchTableFunction() = default;
  // Returns, per input row in order, the generated rows (their new columns).
  [[nodiscard]] virtual std::vector<std::vector<Row>> evaluate(std::span<const RowRef> inputs) const = 0;
};

class BatchFlatMap final : public Operator {
 public:
  explicit BatchFlatMap(std::shared_ptr<const BatchTableFunction> function)
      : function_(std::move(function)) {}

  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "batch_flat_map"; }

 private:
  std::shared_ptr<const BatchTableFunction> function_;
  ZSet distinct_;
  RowPacker out_;
};

}  // namespace pgstream::engine
