// FlatMap: set-returning functions in FROM/SELECT (unnest, generate_series),
// one input row to zero or more output rows.
//
// Contract: linear and stateless: each input update (row, w) becomes the
// updates (row ++ generated columns, w) for every row the TableFunction
// generates. TableFunctions must be deterministic (see evaluator.hpp).
#pragma once

#include <cstdint>
#include <memory>

#include "pgstream/engine/dataflow.hpp"

namespace pgstream::engine {

class TableFunction {
 public:
  virtual ~TableFunction() = default;
  // Calls emit(generated) once per generated row, where `generated` holds
  // the new columns only; the operator prepends the input row.
  virtual void expand(RowRef input, RowPacker& scratch, void (*emit)(void*, RowRef), void* context) const = 0;
};

// unnest(column): one row per element of a one-dimensional array (in order;
// NULL elements included, a NULL array generates nothing).
class Unnest final : public TableFunction {
 public:
  explicit Unnest(std::uint32_t column) : column_(column) {}
  void expand(RowRef input, RowPacker& scratch, void (*emit)(void*, RowRef), void* context) const override;

 private:
  std::uint32_t column_;
};

// generate_series(start, stop) over integer columns, as int8 (NULL or an
// empty range generates nothing).
class GenerateSeries final : public TableFunction {
 public:
  GenerateSeries(std::uint32_t start_column, std::uint32_t stop_column)
      : start_(start_column), stop_(stop_column) {}
  void expand(RowRef input, RowPacker& scratch, void (*emit)(void*, RowRef), void* context) const override;

 private:
  std::uint32_t start_;
  std::uint32_t stop_;
};

class FlatMap final : public Operator {
 public:
  explicit FlatMap(std::shared_ptr<const TableFunction> function) : function_(std::move(function)) {}
  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "flat_map"; }

 private:
  std::shared_ptr<const TableFunction> function_;
  RowPacker scratch_;
  RowPacker out_;
};

}  // namespace pgstream::engine
