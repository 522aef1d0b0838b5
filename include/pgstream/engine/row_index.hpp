// RowIndex: interns rows, giving each distinct row a dense id (0, 1, ...).
//
// Contract: an id is stable until the row is erased; erase(id) forgets the
// row and puts its id on a free list, and a later insert may reuse it (so
// owners keep per-id state in vectors indexed by id, sized id_limit(), and
// reset a slot when find_or_insert reports `inserted`). Rows are copied into
// one arena, so interning allocates nothing per row beyond amortized growth;
// the bytes of erased rows are reclaimed by compacting the arena (ids kept)
// when they exceed the live rows' bytes, and erased slots of the hash table
// (tombstones) by rehashing, so an index whose rows churn stays proportional
// to its live rows. Views from row() are invalidated by find_or_insert and
// erase. Lookups compare bytes: callers intern normalized keys when SQL
// equality must hold (see RowPacker::pack_key). Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "pgstream/engine/row.hpp"

namespace pgstream::engine {

class RowIndex {
 public:
  static constexpr std::uint32_t kNone = UINT32_MAX;

  struct Found {
    std::uint32_t id;
    bool inserted;
  };
  Found find_or_insert(RowRef row);
  Found find_or_insert(RowRef row, std::uint64_t hash);
  [[nodiscard]] std::uint32_t find(RowRef row) const;
  // Forgets the row of `id`; the id may be handed out again. REQUIRES: id live.
  void erase(std::uint32_t id);
  [[nodiscard]] RowRef row(std::uint32_t id) const noexcept {
    const Entry& e = entries_[id];
    return {arena_.data() + e.offset, e.size};
  }
  [[nodiscard]] bool live(std::uint32_t id) const noexcept {
    return id < entries_.size() && entries_[id].size != kDead;
  }
  // One past the largest id handed out (live or free): the size of per-id vectors.
  [[nodiscard]] std::size_t id_limit() const noexcept { return entries_.size(); }
  // Number of live rows.
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size() - free_ids_.size(); }
  [[nodiscard]] std::size_t bytes() const noexcept {
    return arena_.capacity() + entries_.capacity() * sizeof(Entry) +
           (slots_.capacity() + free_ids_.capacity()) * sizeof(std::uint32_t);
  }
  void clear();

 private:
  static constexpr std::uint32_t kTombstone = UINT32_MAX - 1;  // an erased slot
  static constexpr std::uint32_t kDead = UINT32_MAX;           // Entry::size of an erased id
  struct Entry {
    std::uint64_t offset : 40;
    std::uint64_t hash_tag : 24;
    std::uint32_t size;
  };
  void rehash(std::size_t capacity);
  void compact();

  std::vector<std::byte> arena_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> slots_;  // ids, kNone or kTombstone
  std::vector<std::uint32_t> free_ids_;
  std::size_t tombstones_ = 0;
  std::size_t live_bytes_ = 0;  // arena bytes of live rows (the rest is dead)
};

// Packs `row` with every datum normalized (see RowPacker::push_normalized);
// returns `row` itself when nothing needed normalizing (no copy).
[[nodiscard]] RowRef normalize_row(RowRef row, RowPacker& scratch);

}  // namespace pgstream::engine
