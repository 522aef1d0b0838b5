// SemiJoin: EXISTS / IN (semi-join) and NOT EXISTS / NOT IN (anti-join).
//
// Contract: outputs left rows (with their own multiplicity, never multiplied
// by the number of partners) that pass:
//   Exists, In:  the key has no NULL and at least one right row has it;
//   NotExists:   no right row has the key (a NULL key never matches, so such
//                rows always pass);
//   NotIn:       SQL's three-valued x NOT IN (subquery): the right side is
//                empty, or x is not NULL, no right row equals it and no right
//                key is NULL. One NULL on the right removes every row.
// NotIn REQUIRES a single key column (the SQL module rewrites row-valued
// NOT IN). Only keys touched in the epoch are re-evaluated, except when the
// right side becomes empty/non-empty or gains/loses its NULLs under NotIn,
// which changes every row's answer and re-derives the whole output.
#pragma once

#include <cstdint>
#include <vector>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/engine/row_index.hpp"

namespace pgstream::engine {

enum class SemiJoinKind : std::uint8_t { Exists, In, NotExists, NotIn };

struct SemiJoinSpec {
  SemiJoinKind kind = SemiJoinKind::Exists;
  std::vector<std::uint32_t> left_key;
  std::vector<std::uint32_t> right_key;
};

class SemiJoin final : public Operator {
 public:
  SemiJoin(SemiJoinSpec spec, const Arrangement* left, const Arrangement* right);
  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "semi_join"; }
  [[nodiscard]] std::size_t state_bytes() const override {
    return delta_left_.bytes() + delta_right_.bytes();
  }

 private:
  struct Globals {
    std::int64_t right_rows = 0;
    std::int64_t right_null_keys = 0;
  };
  [[nodiscard]] bool passes(bool key_has_null, std::int64_t partners, const Globals& g) const;
  void contribute(RowRef key, bool key_has_null, const Globals& before, const Globals& after, ZSet& output);

  SemiJoinSpec spec_;
  const Arrangement* left_;
  const Arrangement* right_;
  Arrangement delta_left_;
  Arrangement delta_right_;
  Globals globals_;
  RowIndex touched_;
  RowPacker key_;
};

NodeId add_semi_join(Dataflow& dataflow, NodeId left, NodeId right, SemiJoinSpec spec);

}  // namespace pgstream::engine
