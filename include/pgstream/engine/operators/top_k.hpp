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
  const Collation* collation = &c_collation();
};

class TopK final : public Operator {
 public:
  explicit TopK(TopKSpec spec);
  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "top_k"; }
  [[nodiscard]] std::size_t state_bytes() const override { return partitions_.bytes() + row_bytes_; }

 private:
  struct Less {
    const TopKSpec* spec;
    bool operator()(const std::string& a, const std::string& b) const;
  };
  using Rows = std::map<std::string, std::int64_t, Less>;
  void emit_window(const Rows& rows, std::int64_t sign, ZSet& out) const;

  TopKSpec spec_;
  RowIndex partitions_;
  std::vector<Rows> rows_;
  std::vector<std::uint64_t> touched_epoch_;
  std::vector<std::uint32_t> touched_;
  std::uint64_t epoch_ = 0;
  std::size_t row_bytes_ = 0;
  ZSet changes_;
  RowPacker key_;
};

}  // namespace pgstream::engine
