// ZSet: a collection of (row, weight) updates, the unit operators exchange.
//
// Contract: a ZSet owns its rows in one arena (no allocation per row once the
// arena has grown); weights are signed multiplicities (+n inserts n copies,
// -n deletes n). After consolidate() every row appears once, rows are in a
// deterministic order (by row hash, then bytes: not SQL order), and no
// weight is zero: a consolidated
// ZSet is DBSP's canonical Z-set and DD's consolidated Batch. Views handed
// out by rows() are invalidated by the next mutation. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pgstream/engine/row.hpp"

namespace pgstream::engine {

class ZSet {
 public:
  struct Update {
    RowRef row;
    std::int64_t weight;
  };

  ZSet() = default;

  // Frees every buffer (clear() keeps them for the next epoch): after an
  // unusually big epoch, such as loading a snapshot.
  void release() noexcept { *this = ZSet(); }
  void clear() noexcept {
    bytes_.clear();
    entries_.clear();
  }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

  // Appends an update (weight 0 is dropped).
  void add(RowRef row, std::int64_t weight);
  // Appends every update of `other` with its weight multiplied by `scale`.
  void add_all(const ZSet& other, std::int64_t scale = 1);

  // Merges equal rows, drops zero weights, sorts by (row hash, row bytes).
  void consolidate();

  [[nodiscard]] Update operator[](std::size_t i) const noexcept {
    const Entry& e = entries_[i];
    return {RowRef(bytes_.data() + e.offset, e.size), e.weight};
  }

  class Iterator {
   public:
    Iterator(const ZSet* set, std::size_t i) noexcept : set_(set), i_(i) {}
    Update operator*() const noexcept { return (*set_)[i_]; }
    Iterator& operator++() noexcept {
      ++i_;
      return *this;
    }
    bool operator!=(const Iterator& other) const noexcept { return i_ != other.i_; }

   private:
    const ZSet* set_;
    std::size_t i_;
  };
  [[nodiscard]] Iterator begin() const noexcept { return {this, 0}; }
  [[nodiscard]] Iterator end() const noexcept { return {this, entries_.size()}; }

  // Sum of weights (the change in the number of rows).
  [[nodiscard]] std::int64_t total_weight() const noexcept;
  // Bytes held (arena and index), for state accounting.
  [[nodiscard]] std::size_t bytes() const noexcept {
    return bytes_.capacity() + (entries_.capacity() + sorted_.capacity()) * sizeof(Entry) +
           order_.capacity() * sizeof(Keyed);
  }

 private:
  struct Entry {
    std::uint32_t offset;
    std::uint32_t size;
    std::int64_t weight;
  };

  struct Keyed {
    std::uint64_t hash;
    std::uint32_t index;
  };

  std::vector<std::byte> bytes_;
  std::vector<Entry> entries_;
  std::vector<Keyed> order_;  // consolidate()'s scratch, kept to reuse its memory
  std::vector<Entry> sorted_;
};

}  // namespace pgstream::engine
