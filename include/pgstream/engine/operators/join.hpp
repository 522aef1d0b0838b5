// Join: binary equi-join, INNER / LEFT / RIGHT / FULL [OUTER].
//
// Contract: output rows are the left row's columns followed by the right
// row's; an unmatched row of the preserved side(s) is extended with NULLs.
// Keys are compared with SQL equality (numeric by value); a key containing
// NULL matches nothing (its row is NULL-extended by outer joins). REQUIRES:
// key columns of both sides have the same type (the SQL module casts).
// Both inputs may change in the same epoch: the output delta is
// dL⋈R' + L'⋈dR − dL⋈dR over the arrangements' new contents L', R', i.e.
// exactly L'⋈R' − L⋈R. NULL-extended rows are re-derived only for keys
// touched in the epoch, from the number of partners before and after, so
// the first partner arriving retracts them and the last leaving restores them.
// Non-equi ON conditions of an INNER join are a MapFilter on the output; for
// outer joins the SQL module must put only equalities in the ON clause.
#pragma once

#include <cstdint>
#include <vector>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/engine/row_index.hpp"

namespace pgstream::engine {

enum class JoinKind : std::uint8_t { Inner, Left, Right, Full };

struct JoinSpec {
  JoinKind kind = JoinKind::Inner;
  std::vector<std::uint32_t> left_key;
  std::vector<std::uint32_t> right_key;
  std::uint32_t left_arity = 0;  // for NULL extension
  std::uint32_t right_arity = 0;
};

class Join final : public Operator {
 public:
  // REQUIRES: left/right are the arrangements of the two inputs by the keys.
  Join(JoinSpec spec, const Arrangement* left, const Arrangement* right);

  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "join"; }
  [[nodiscard]] std::size_t state_bytes() const override {
    return delta_left_.bytes() + delta_right_.bytes();
  }

 private:
  void join_delta(const ZSet& delta, bool delta_is_left, const Arrangement& other, std::int64_t sign,
                  ZSet& output);
  void emit(RowRef left, RowRef right, std::int64_t weight, ZSet& output);
  void emit_null_extended(RowRef row, bool row_is_left, std::int64_t weight, ZSet& output);
  void outer_side(bool preserved_is_left, const ZSet& delta_preserved, ZSet& output);

  JoinSpec spec_;
  const Arrangement* left_;
  const Arrangement* right_;
  Arrangement delta_left_;  // this epoch's deltas, indexed by key
  Arrangement delta_right_;
  RowIndex touched_;
  RowPacker key_;
  RowPacker out_;
};

// Arranges both inputs by their keys (sharing existing arrangements) and
// adds the join. Returns the join's node.
NodeId add_join(Dataflow& dataflow, NodeId left, NodeId right, JoinSpec spec);

}  // namespace pgstream::engine
