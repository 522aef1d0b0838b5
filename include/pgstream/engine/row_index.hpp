// RowIndex: interns rows, giving each distinct row a dense id (0, 1, ...).
//
// Contract: ids are stable for the life of the index (rows are never
// removed; owners reuse ids of rows they no longer need, or rebuild). Rows
// are copied into a chunked arena, so interning allocates nothing per row
// beyond amortized growth. Lookups compare bytes: callers intern normalized
// keys when SQL equality must hold (see RowPacker::pack_key). Not thread-safe.
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
  [[nodiscard]] RowRef row(std::uint32_t id) const noexcept {
    const Entry& e = entries_[id];
    return {arena_.data() + e.offset, e.size};
  }
  [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] std::size_t bytes() const noexcept {
    return arena_.capacity() + entries_.capacity() * sizeof(Entry) +
           slots_.capacity() * sizeof(std::uint32_t);
  }
  void clear();

 private:
  struct Entry {
    std::uint64_t offset : 40;
    std::uint64_t hash_tag : 24;
    std::uint32_t size;
  };
  void grow();

  std::vector<std::byte> arena_;
  std::vector<Entry> entries_;
  std::vector<std::uint32_t> slots_;
};

// Packs `row` with every datum normalized (see RowPacker::push_normalized);
// returns `row` itself when nothing needed normalizing (no copy).
[[nodiscard]] RowRef normalize_row(RowRef row, RowPacker& scratch);

}  // namespace pgstream::engine
