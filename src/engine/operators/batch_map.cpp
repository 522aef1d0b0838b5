#include "pgstream/engine/operators/batch_map.hpp"

#include "pgstream/common/error.hpp"

namespace pgstream::engine {
namespace {

// The distinct rows of a delta, each once (a row whose weights cancel out
// is left out); `scratch` keeps them and their weights.
std::vector<RowRef> distinct_rows(const ZSet& delta, ZSet& scratch) {
  scratch.clear();
  scratch.add_all(delta);
  scratch.consolidate();
  std::vector<RowRef> rows;
  rows.reserve(scratch.size());
  for (const auto& [row, weight] : scratch) rows.push_back(row);
  return rows;
}

}  // namespace

void BatchMap::step(std::span<const ZSet* const> inputs, ZSet& output) {
  const ZSet& delta = *inputs[0];
  if (delta.empty()) return;
  // Evaluate each distinct row once (a +1 and a -1 of one row cancel first).
  const std::vector<RowRef> rows = distinct_rows(delta, distinct_);
  if (rows.empty()) return;
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
  const std::vector<RowRef> rows = distinct_rows(delta, distinct_);
  if (rows.empty()) return;
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
