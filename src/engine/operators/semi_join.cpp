#include "pgstream/engine/operators/semi_join.hpp"

#include "pgstream/common/error.hpp"

namespace pgstream::engine {

SemiJoin::SemiJoin(SemiJoinSpec spec, const Arrangement* left, const Arrangement* right)
    : spec_(std::move(spec)),
      left_(left),
      right_(right),
      delta_left_(spec_.left_key),
      delta_right_(spec_.right_key) {
  if (spec_.kind == SemiJoinKind::NotIn && spec_.left_key.size() != 1)
    throw Error(ErrorKind::Unsupported, "NOT IN over more than one column cannot be maintained incrementally",
                {.hint = "rewrite it with NOT EXISTS"});
}

bool SemiJoin::passes(bool key_has_null, std::int64_t partners, const Globals& g) const {
  switch (spec_.kind) {
    case SemiJoinKind::Exists:
    case SemiJoinKind::In: return !key_has_null && partners > 0;
    case SemiJoinKind::NotExists: return key_has_null || partners == 0;
    case SemiJoinKind::NotIn:
      return g.right_rows == 0 || (!key_has_null && partners == 0 && g.right_null_keys == 0);
  }
  return false;
}

// Output change for the left rows with this key: rows now passing minus rows
// that passed before (old left rows = arrangement rows - this epoch's delta).
void SemiJoin::contribute(RowRef key, bool key_has_null, const Globals& before, const Globals& after,
                          ZSet& output) {
  std::int64_t partners_now = key_has_null ? 0 : right_->weight_at(key);
  std::int64_t partners_before = key_has_null ? 0 : partners_now - delta_right_.weight_at(key);
  bool now = passes(key_has_null, partners_now, after);
  bool then = passes(key_has_null, partners_before, before);
  if (now == then) {
    if (now) delta_left_.for_each_at(key, [&](RowRef row, std::int64_t w) { output.add(row, w); });
    return;
  }
  std::int64_t sign = now ? 1 : -1;
  left_->for_each_at(key, [&](RowRef row, std::int64_t w) { output.add(row, sign * w); });
  if (then) delta_left_.for_each_at(key, [&](RowRef row, std::int64_t w) { output.add(row, w); });
}

void SemiJoin::step(std::span<const ZSet* const> inputs, ZSet& output) {
  const ZSet& dl = *inputs[0];
  const ZSet& dr = *inputs[1];
  if (dl.empty() && dr.empty()) return;
  delta_left_.clear();
  delta_right_.clear();
  delta_left_.apply(dl);
  delta_right_.apply(dr);
  Globals before = globals_;
  for (auto u : dr) {
    globals_.right_rows += u.weight;
    key_.clear();
    key_.pack_key(u.row, spec_.right_key);
    if (has_null(key_.row())) globals_.right_null_keys += u.weight;
  }
  touched_.clear();
  bool everything =
      spec_.kind == SemiJoinKind::NotIn && (passes(true, 0, before) != passes(true, 0, globals_) ||
                                            (before.right_null_keys == 0) != (globals_.right_null_keys == 0));
  auto touch = [&](RowRef row, const std::vector<std::uint32_t>& columns) {
    key_.clear();
    key_.pack_key(row, columns);
    (void)touched_.find_or_insert(key_.row());
  };
  if (everything) {
    left_->for_each([&](RowRef row, std::int64_t) { touch(row, spec_.left_key); });
  }
  for (auto u : dl) touch(u.row, spec_.left_key);
  for (auto u : dr) touch(u.row, spec_.right_key);
  for (std::uint32_t id = 0; id < touched_.id_limit(); ++id) {
    RowRef key = touched_.row(id);
    contribute(key, has_null(key), before, globals_, output);
  }
}

NodeId add_semi_join(Dataflow& dataflow, NodeId left, NodeId right, SemiJoinSpec spec) {
  const Arrangement* l = dataflow.arrange(left, spec.left_key);
  const Arrangement* r = dataflow.arrange(right, spec.right_key);
  return dataflow.add<SemiJoin>({left, right}, std::move(spec), l, r);
}

}  // namespace pgstream::engine
