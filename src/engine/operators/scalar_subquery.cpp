#include "pgstream/engine/operators/scalar_subquery.hpp"

#include "pgstream/common/error.hpp"

namespace pgstream::engine {

void ScalarSubquery::current_value(RowPacker& out) const {
  out.clear();
  std::int64_t rows = 0;
  subquery_.for_each([&](RowRef row, std::int64_t w) {
    rows += w;
    out.clear();
    out.push_row(row);
  });
  if (rows == 0) {
    out.clear();
    out.push_null();
  } else if (rows != 1) {
    throw Error(ErrorKind::Database, "more than one row returned by a subquery used as an expression",
                {.sqlstate = "21000"});
  }
}

void ScalarSubquery::emit(RowRef outer, RowRef value, std::int64_t weight, ZSet& output) {
  out_.clear();
  out_.push_row(outer);
  out_.push_row(value);
  output.add(out_.row(), weight);
}

void ScalarSubquery::step(std::span<const ZSet* const> inputs, ZSet& output) {
  const ZSet& outer_delta = *inputs[0];
  const ZSet& sub_delta = *inputs[1];
  if (sub_delta.empty()) {
    if (outer_delta.empty()) return;
    current_value(after_);
    for (auto u : outer_delta) emit(u.row, after_.row(), u.weight, output);
    return;
  }
  current_value(before_);
  subquery_.apply(sub_delta);
  current_value(after_);
  if (before_.row() == after_.row()) {
    for (auto u : outer_delta) emit(u.row, after_.row(), u.weight, output);
    return;
  }
  // New value: outer' x new - outer x old, with outer = outer' - delta.
  outer_->for_each([&](RowRef row, std::int64_t w) {
    emit(row, after_.row(), w, output);
    emit(row, before_.row(), -w, output);
  });
  for (auto u : outer_delta) emit(u.row, before_.row(), u.weight, output);
}

NodeId add_scalar_subquery(Dataflow& dataflow, NodeId outer, NodeId subquery) {
  const Arrangement* arranged = dataflow.arrange(outer, {});
  return dataflow.add<ScalarSubquery>({outer, subquery}, arranged);
}

}  // namespace pgstream::engine
