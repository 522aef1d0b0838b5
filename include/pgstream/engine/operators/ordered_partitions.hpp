// OrderedPartitions: the state of the operators that recompute every
// partition a delta touches (TopK, Window): a collection's rows grouped by a
// partition key, each partition ordered by sort keys (ties broken by the
// rows' bytes, so the order is total and deterministic), with multiplicities.
//
// Contract: update(delta, emit) applies one epoch's delta. For every
// partition the delta touches it calls emit(rows, -1) with the partition as
// it was before the epoch (before its first change), and, once the whole
// delta is applied, emit(rows, +1) with the partition as it is now; a
// partition whose rows all left is emitted empty. Rows whose multiplicity
// returns to zero are dropped. The sort keys and collation are borrowed and
// must outlive the object, which is neither copyable nor movable (its
// comparator points at them). Not thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pgstream/engine/operators/top_k.hpp"
#include "pgstream/engine/row_index.hpp"
#include "pgstream/engine/zset.hpp"

namespace pgstream::engine {

class OrderedPartitions {
 public:
  struct Less {
    const std::vector<SortKey>* order;
    const Collation* collation;
    bool operator()(const std::string& a, const std::string& b) const;
  };
  using Rows = std::map<std::string, std::int64_t, Less>;

  OrderedPartitions(const std::vector<std::uint32_t>& partition, const std::vector<SortKey>& order,
                    const Collation& collation)
      : partition_(&partition), less_{&order, &collation} {}
  OrderedPartitions(const OrderedPartitions&) = delete;
  OrderedPartitions& operator=(const OrderedPartitions&) = delete;

  // emit: void(const Rows& rows, std::int64_t sign).
  template <class Emit>
  void update(const ZSet& delta, Emit&& emit) {
    ++epoch_;
    touched_.clear();
    for (auto u : delta) {
      Rows& rows = partition_of(u.row, emit);
      add(rows, u.row, u.weight);
    }
    for (std::uint32_t id : touched_) emit(rows_[id], std::int64_t{1});
  }

  [[nodiscard]] std::size_t bytes() const noexcept { return partitions_.bytes() + row_bytes_; }

  // The row a map entry holds.
  [[nodiscard]] static RowRef row_of(const std::string& bytes) noexcept {
    return {reinterpret_cast<const std::byte*>(bytes.data()), static_cast<std::uint32_t>(bytes.size())};
  }

 private:
  // The partition of `row`, marked touched; emits its old state on first touch.
  template <class Emit>
  Rows& partition_of(RowRef row, Emit& emit) {
    key_.clear();
    key_.pack_key(row, *partition_);
    auto found = partitions_.find_or_insert(key_.row());
    if (found.inserted) {
      rows_.emplace_back(less_);
      touched_epoch_.push_back(0);
    }
    if (touched_epoch_[found.id] != epoch_) {
      touched_epoch_[found.id] = epoch_;
      touched_.push_back(found.id);
      emit(rows_[found.id], std::int64_t{-1});
    }
    return rows_[found.id];
  }
  void add(Rows& rows, RowRef row, std::int64_t weight);

  const std::vector<std::uint32_t>* partition_;
  Less less_;
  RowIndex partitions_;
  std::vector<Rows> rows_;
  std::vector<std::uint64_t> touched_epoch_;
  std::vector<std::uint32_t> touched_;
  std::uint64_t epoch_ = 0;
  std::size_t row_bytes_ = 0;
  RowPacker key_;
};

}  // namespace pgstream::engine
