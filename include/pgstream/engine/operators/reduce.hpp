// Reduce: GROUP BY with aggregates (DD's reduce, specialised to SQL).
//
// Contract: output rows are the group key's columns (normalized: numeric
// keys in their shortest scale) followed by one column per aggregate. A
// group is present while it has rows; with no key columns (a scalar
// aggregate) exactly one row is always present, also over an empty input
// (count 0, sum NULL), from the first epoch on. Each epoch only the groups
// touched by the input delta are updated: the old output row of a changed
// group is retracted and the new one inserted; an unchanged result emits
// nothing. A group that loses its last row is forgotten (key, counters and
// accumulators), so state is proportional to the groups present. HAVING is
// a MapFilter on the output. Aggregate state is described
// in aggregate.hpp (aggregates of one argument whose states coincide share
// one accumulator: count/sum/avg(x), min/max(x), the variance family, the
// regression family, or two of a kind); a FILTER (WHERE ...) clause is a bool column of the
// input, computed by the MapFilter before the Reduce.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/engine/operators/aggregate.hpp"
#include "pgstream/engine/row_index.hpp"

namespace pgstream::engine {

struct ReduceSpec {
  std::vector<std::uint32_t> group_key;
  std::vector<AggregateSpec> aggregates;
  const Collation* collation = &c_collation();  // for min/max of text
};

class Reduce final : public Operator {
 public:
  explicit Reduce(ReduceSpec spec);
  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "reduce"; }
  [[nodiscard]] std::size_t state_bytes() const override;

 private:
  struct Group {
    std::int64_t rows = 0;
    std::uint64_t epoch = 0;  // last epoch touched
  };
  // Groups per page of accumulators: pages grow the state in steps of
  // this many groups instead of doubling one vector.
  static constexpr std::uint32_t kPageGroups = 64;
  Accumulator& state(std::uint32_t group, std::size_t s) {
    return pages_[group / kPageGroups][(group % kPageGroups) * feeders_.size() + s];
  }
  [[nodiscard]] const Accumulator& state(std::uint32_t group, std::size_t s) const {
    return pages_[group / kPageGroups][(group % kPageGroups) * feeders_.size() + s];
  }
  std::uint32_t touch(RowRef key);
  void pack_output(std::uint32_t group, RowPacker& out) const;
  [[nodiscard]] bool present(std::uint32_t group) const {
    return spec_.group_key.empty() || groups_[group].rows > 0;
  }

  ReduceSpec spec_;
  RowIndex keys_;
  std::vector<Group> groups_;
  // Aggregates whose state is the same (sum(x) and avg(x), min(x) and
  // max(x), ...) share one accumulator per group: state_of_[a] is
  // aggregate a's, feeders_[s] the aggregate whose spec feeds state s.
  std::vector<std::size_t> state_of_;
  std::vector<std::size_t> feeders_;
  std::vector<std::unique_ptr<Accumulator[]>> pages_;  // kPageGroups x states each
  std::vector<std::uint32_t> touched_;
  ZSet before_;  // output rows of the touched groups before this epoch
  std::vector<std::uint32_t> before_index_;
  std::uint64_t epoch_ = 0;
  RowPacker key_;
  RowPacker out_;
};

}  // namespace pgstream::engine
