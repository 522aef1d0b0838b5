#include "pgstream/engine/operators/batch_map.hpp"

#include "pgstream/common/error.hpp"

namespace pgstream::engine {

void BatchMap::step(std::span<const ZSet* const> inputs, ZSet& output) {
  const ZSet& delta = *inputs[0];
  if (delta.empty()) return;
  // Evaluate each distinct row once: consolidate a copy, keeping rows whose
  // weights cancel (a +1 and a -1 of one row) out of the call.
  distinct_.clear();
  distinct_.add_all(delta);
  distinct_.consolidate();
  if (distinct_.empty()) return;
  std::vector<RowRef> rows;
  rows.reserve(distinct_.size());
  for (const auto& [row, weight] : distinct_) rows.push_back(row);
  const std::vector<Row> values = function_->evaluate(rows);
  if (values.size() != rows.size()) {
    throw Error(ErrorKind::Internal, "batch evaluation returned " + std::to_string(values.size()) +
                                         " results for " + std::to_string(rows.size()) + " rows");
  }
  std::size_t i = 0;
  for (const auto& [row, weight] : distinct_) {
    out_.clear();
    out_.push_row(row);
    out_.push_row(values[i++]);
    output.add(out_.row(), weight);
  }
}

void BatchFlatMap::step(std::span<const ZSet* const> inputs, ZSet& output) {
  const ZSet& delta = *inputs[0];
  if (delta.empty()) return;
  distinct_.clear();
  distinct_.add_all(delta);
  distinct_.consolidate();
  if (distinct_.empty()) return;
  std::vector<RowRef> rows;
  rows.reserve(distinct_.size());
  for (const auto& [row, weight] : distinct_) rows.push_back(row);
  const std::vector<std::vector<Row>> generated = function_->evaluate(rows);
  if (generated.size() != rows.size()) {
    throw Error(ErrorKind::Internal, "batch table function returned results for " +
                                         std::to_string(generated.size()) + " of " +
                                         std::to_string(rows.size()) + " rows");
  }
  std::size_t i = 0;
  for (const auto& [row, weight] : distinct_) {
    for (const Row& extra : generated[i]) {
      out_.clear();
      out_.push_row(row);
      out_.push_row(extra);
      output.add(out_.row(), weight);
    }
    ++i;
  }
}

}  // namespace pgstream::engine
