// TopK: ORDER BY ... LIMIT/OFFSET, globally or per partition (and DISTINCT
// ON, which is a TopK with limit 1 per DISTINCT ON key).
//
// Contract: within each partition (rows with equal partition columns; none
// means one global partition) rows are ordered by the sort keys with
// PostgreSQL's rules (NULLS LAST for ASC, NULLS FIRST for DESC by default,
// text through the collation); rows equal under the sort keys (ties) are
// ordered by their bytes, a deterministic choice PostgreSQL would also be
// allowed to make. The output is the rows at positions [offset,
// offset + limit) of each partition, duplicates counted. Each epoch only the
// touched partitions are re-derived: O(offset + limit + changes * log n).
// State: every row of every partition, in an ordered multiset.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/engine/row_index.hpp"

namespace pgstream::engine {

struct SortKey {
  std::uint32_t column = 0;
  bool descending = false;
  bool nulls_first = false;  // PostgreSQL's default: nulls_first == descending
  static SortKey asc(std::uint32_t c) { return {c, false, false}; }
  static SortKey desc(std::uint32_t c) { return {c, true, true}; }
};

// Compares two rows by sort keys (then bytes if `total` is set).
int compare_rows(RowRef a, RowRef b, const std::vector<SortKey>& keys, const Collation& collation,
                 bool total);

struct TopKSpec {
  std::vector<std::uint32_t> partition;
  std::vector<SortKey> order;
  std::uint64_t limit = UINT64_MAX;  // no LIMIT
  std::uint64_t offset = 0;
  bool with_ties = false;  // FETCH FIRST ... WITH TIES: also the rows tied with the last one kept
  const Collation* collation = &c_collation();
};

class OrderedPartitions;

class TopK final : public Operator {
 public:
  explicit TopK(TopKSpec spec);
  ~TopK() override;
  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "top_k"; }
  [[nodiscard]] std::size_t state_bytes() const override;

 private:
  TopKSpec spec_;
  std::unique_ptr<OrderedPartitions> partitions_;  // borrows spec_'s keys
  ZSet changes_;
};

}  // namespace pgstream::engine
