// OrderedPartitions: the state of the operators that recompute every
// partition a delta touches (TopK, Window): a collection's rows grouped by a
// partition key, each partition ordered by sort keys (ties broken by the
// rows' bytes, so the order is total and deterministic), with multiplicities.
//
// Contract: update(delta, emit) applies one epoch's delta. For every
// partition the delta touches it calls emit(rows, -1) with the partition as
// it was before the epoch, then applies that partition's changes and calls
// emit(rows, +1) with the partition as it is now; a partition whose rows all
// left is emitted empty, then forgotten (its key and index are freed). Rows
// whose multiplicity returns to zero are dropped. A Rows view is valid only
// inside the emit call. The sort keys and collation are borrowed and must
// outlive the object, which is neither copyable nor movable. Not
// thread-safe.
//
// Memory: rows are packed back to back in 4-64 KiB chunks as
// [weight i64][size u32][row] (no per-row allocation); a partition is its
// key plus sorted blocks of u32 references into the chunks (4 bytes per
// distinct row, and growth slack). Dropped rows leave dead space that compaction reclaims
// when it exceeds the live space, so state stays proportional to the live
// rows, not to the rows or partitions ever seen. bytes() counts chunks,
// the partition table and the reference vectors (not the per-epoch scratch,
// which is sized by the largest delta, as a ZSet is). Each change costs
// O(log n + kBlock), whatever the partition's size.
// Limit: 4 GiB of live rows (32-bit references); beyond that update()
// throws Error(Internal).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pgstream/engine/operators/top_k.hpp"
#include "pgstream/engine/zset.hpp"

namespace pgstream::engine {

class OrderedPartitions {
 public:
  struct Entry {
    RowRef row;
    std::int64_t weight;
  };
  using Block = std::vector<std::uint32_t>;  // references into the chunks
  // One partition's distinct rows in order, with their multiplicities.
  class Rows {
   public:
    class Iterator {
     public:
      Iterator(const OrderedPartitions* owner, const std::vector<Block>* blocks, std::size_t block)
          : owner_(owner), blocks_(blocks), block_(block) {}
      Entry operator*() const noexcept { return owner_->entry_at((*blocks_)[block_][at_]); }
      Iterator& operator++() noexcept {
        if (++at_ == (*blocks_)[block_].size()) {
          ++block_;
          at_ = 0;
        }
        return *this;
      }
      friend bool operator==(const Iterator& a, const Iterator& b) noexcept {
        return a.block_ == b.block_ && a.at_ == b.at_;
      }

     private:
      const OrderedPartitions* owner_;
      const std::vector<Block>* blocks_;
      std::size_t block_;
      std::size_t at_ = 0;
    };
    Rows(const OrderedPartitions* owner, const std::vector<Block>& blocks)
        : owner_(owner), blocks_(&blocks) {}
    [[nodiscard]] Iterator begin() const noexcept { return {owner_, blocks_, 0}; }
    [[nodiscard]] Iterator end() const noexcept { return {owner_, blocks_, blocks_->size()}; }
    [[nodiscard]] bool empty() const noexcept { return blocks_->empty(); }

   private:
    const OrderedPartitions* owner_;
    const std::vector<Block>* blocks_;
  };

  OrderedPartitions(const std::vector<std::uint32_t>& partition, const std::vector<SortKey>& order,
                    const Collation& collation)
      : partition_(&partition), order_(&order), collation_(&collation) {}
  OrderedPartitions(const OrderedPartitions&) = delete;
  OrderedPartitions& operator=(const OrderedPartitions&) = delete;
  ~OrderedPartitions();

  // emit: void(const Rows& rows, std::int64_t sign).
  template <class Emit>
  void update(const ZSet& delta, Emit&& emit) {
    group(delta);
    for (std::size_t t = 0; t < touched_.size(); ++t) {
      const Rows rows(this, touched_[t].partition->blocks);
      emit(rows, std::int64_t{-1});
      apply(t);
      emit(rows, std::int64_t{1});
    }
    finish();
  }

  // The state held: chunks, partition table, keys, reference vectors.
  [[nodiscard]] std::size_t bytes() const noexcept;
  [[nodiscard]] std::size_t partitions() const noexcept { return partitions_.size(); }
  [[nodiscard]] std::size_t distinct_rows() const noexcept { return live_rows_; }

 private:
  // Blocks of at most 2 * kBlock references, never empty; in order, as is
  // each block: a one-level B-tree, so a change costs O(log n + kBlock).
  static constexpr std::size_t kBlock = 512;
  struct Partition {
    std::vector<Block> blocks;  // sorted by (sort keys, row bytes)
    std::uint64_t epoch = 0;    // last epoch that touched it
    std::uint32_t slot = 0;     // its index in touched_ during that epoch
  };
  struct KeyHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept;
  };
  using Table = std::unordered_map<std::string, Partition, KeyHash, std::equal_to<>>;
  struct Touched {
    const std::string* key;
    Partition* partition;
    std::size_t first = 0;  // its changes: pending_[first, first + count)
    std::size_t count = 0;
  };
  struct Change {
    std::uint32_t slot;
    RowRef row;
    std::int64_t weight;
  };
  struct Chunk {
    std::unique_ptr<std::byte[]> bytes;
    std::uint32_t capacity = 0;
    std::uint32_t used = 0;
  };
  static constexpr std::uint32_t kHeader = sizeof(std::int64_t) + sizeof(std::uint32_t);

  [[nodiscard]] std::byte* entry(std::uint32_t ref) const noexcept {
    return chunks_[ref >> 16].bytes.get() + (ref & 0xFFFF);
  }
  [[nodiscard]] Entry entry_at(std::uint32_t ref) const noexcept {
    const std::byte* e = entry(ref);
    std::int64_t weight = 0;
    std::uint32_t size = 0;
    std::memcpy(&weight, e, sizeof weight);
    std::memcpy(&size, e + sizeof weight, sizeof size);
    return {RowRef(e + kHeader, size), weight};
  }
  void set_weight(std::uint32_t ref, std::int64_t weight) noexcept {
    std::memcpy(entry(ref), &weight, sizeof weight);
  }
  [[nodiscard]] bool less(RowRef a, RowRef b) const {
    return compare_rows(a, b, *order_, *collation_, true) < 0;
  }

  void group(const ZSet& delta);  // finds the touched partitions and sorts their changes
  void apply(std::size_t touched);
  void finish();  // forgets emptied partitions, compacts
  std::uint32_t allocate(RowRef row, std::int64_t weight, std::vector<Chunk>& chunks);
  void release(std::uint32_t ref);
  void compact();
  void change(std::vector<Block>& blocks, RowRef row, std::int64_t weight);
  static std::size_t vector_bytes(const std::vector<Block>& blocks) noexcept;

  const std::vector<std::uint32_t>* partition_;
  const std::vector<SortKey>* order_;
  const Collation* collation_;
  Table partitions_;
  std::vector<Chunk> chunks_;
  std::vector<Touched> touched_;
  std::vector<Change> pending_;
  std::uint64_t epoch_ = 0;
  std::size_t live_rows_ = 0;
  std::size_t live_bytes_ = 0;  // entry bytes (header + row) of live rows
  std::size_t dead_bytes_ = 0;
  std::size_t vector_bytes_ = 0;  // the partitions' block vectors
  std::size_t key_heap_bytes_ = 0;
  RowPacker key_;
};

}  // namespace pgstream::engine
