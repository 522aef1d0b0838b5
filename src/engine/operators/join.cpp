#include "pgstream/engine/operators/join.hpp"

namespace pgstream::engine {

Join::Join(JoinSpec spec, const Arrangement* left, const Arrangement* right)
    : spec_(std::move(spec)),
      left_(left),
      right_(right),
      delta_left_(spec_.left_key),
      delta_right_(spec_.right_key) {}

void Join::emit(RowRef left, RowRef right, std::int64_t weight, ZSet& output) {
  out_.clear();
  out_.push_row(left);
  out_.push_row(right);
  output.add(out_.row(), weight);
}

void Join::emit_null_extended(RowRef row, bool row_is_left, std::int64_t weight, ZSet& output) {
  out_.clear();
  if (!row_is_left) {
    for (std::uint32_t i = 0; i < spec_.left_arity; ++i) out_.push_null();
  }
  out_.push_row(row);
  if (row_is_left) {
    for (std::uint32_t i = 0; i < spec_.right_arity; ++i) out_.push_null();
  }
  output.add(out_.row(), weight);
}

// Joins every row of `delta` with the rows of `other` that share its key.
void Join::join_delta(const ZSet& delta, bool delta_is_left, const Arrangement& other, std::int64_t sign,
                      ZSet& output) {
  const auto& key_columns = delta_is_left ? spec_.left_key : spec_.right_key;
  for (auto u : delta) {
    key_.clear();
    key_.pack_key(u.row, key_columns);
    if (has_null(key_.row())) continue;
    other.for_each_at(key_.row(), [&](RowRef match, std::int64_t w) {
      if (delta_is_left) {
        emit(u.row, match, sign * u.weight * w, output);
      } else {
        emit(match, u.row, sign * u.weight * w, output);
      }
    });
  }
}

// NULL extension of the preserved side: for every key touched this epoch,
// retract the extension that held before and add the one that holds now.
void Join::outer_side(bool preserved_is_left, const ZSet& delta_preserved, ZSet& output) {
  const Arrangement& preserved = preserved_is_left ? *left_ : *right_;
  const Arrangement& partner = preserved_is_left ? *right_ : *left_;
  const Arrangement& delta_pres = preserved_is_left ? delta_left_ : delta_right_;
  const Arrangement& delta_part = preserved_is_left ? delta_right_ : delta_left_;
  const auto& key_columns = preserved_is_left ? spec_.left_key : spec_.right_key;
  // Rows with a NULL key never have partners: their extension is linear.
  for (auto u : delta_preserved) {
    key_.clear();
    key_.pack_key(u.row, key_columns);
    if (has_null(key_.row())) emit_null_extended(u.row, preserved_is_left, u.weight, output);
  }
  for (std::uint32_t id = 0; id < touched_.id_limit(); ++id) {
    RowRef key = touched_.row(id);
    std::int64_t partners_now = partner.weight_at(key);
    std::int64_t partners_before = partners_now - delta_part.weight_at(key);
    if (partners_now == 0) {
      preserved.for_each_at(
          key, [&](RowRef row, std::int64_t w) { emit_null_extended(row, preserved_is_left, w, output); });
    }
    if (partners_before == 0) {  // old rows = new rows - delta rows
      preserved.for_each_at(
          key, [&](RowRef row, std::int64_t w) { emit_null_extended(row, preserved_is_left, -w, output); });
      delta_pres.for_each_at(
          key, [&](RowRef row, std::int64_t w) { emit_null_extended(row, preserved_is_left, w, output); });
    }
  }
}

void Join::step(std::span<const ZSet* const> inputs, ZSet& output) {
  const ZSet& dl = *inputs[0];
  const ZSet& dr = *inputs[1];
  if (dl.empty() && dr.empty()) return;
  join_delta(dl, true, *right_, 1, output);
  join_delta(dr, false, *left_, 1, output);
  // The deltas indexed by key: for dL⋈dR, and for outer joins' old state.
  bool outer = spec_.kind != JoinKind::Inner;
  delta_left_.clear();
  delta_right_.clear();
  if (outer) delta_left_.apply(dl);
  if (outer || !dl.empty()) delta_right_.apply(dr);
  if (!dl.empty() && !dr.empty()) join_delta(dl, true, delta_right_, -1, output);
  if (!outer) return;
  touched_.clear();
  for (std::size_t side = 0; side < 2; ++side) {
    for (auto u : *inputs[side]) {
      key_.clear();
      key_.pack_key(u.row, side == 0 ? spec_.left_key : spec_.right_key);
      if (!has_null(key_.row())) (void)touched_.find_or_insert(key_.row());
    }
  }
  if (spec_.kind == JoinKind::Left || spec_.kind == JoinKind::Full) outer_side(true, dl, output);
  if (spec_.kind == JoinKind::Right || spec_.kind == JoinKind::Full) outer_side(false, dr, output);
}

NodeId add_join(Dataflow& dataflow, NodeId left, NodeId right, JoinSpec spec) {
  const Arrangement* l = dataflow.arrange(left, spec.left_key);
  const Arrangement* r = dataflow.arrange(right, spec.right_key);
  return dataflow.add<Join>({left, right}, std::move(spec), l, r);
}

}  // namespace pgstream::engine
