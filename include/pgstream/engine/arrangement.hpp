// Arrangement: an indexed, consolidated multiset of rows, keyed by a
// projection of the row (differential dataflow's arranged trace).
//
// Contract: holds each distinct row once with its accumulated weight; rows
// are found by their key (the normalized values of key_columns) in O(1)
// expected time, and by the whole row for consolidation. Rows whose weight
// returns to zero are invisible and their space is reclaimed by compaction
// (amortized; at most as much dead space as live space is kept). Memory is
// chunked: no per-row heap allocation, and bytes() reports everything held.
// Limit: 4 GiB of rows per arrangement (32-bit entry references); beyond
// that update() throws Error(Internal) rather than corrupt anything.
// An Arrangement is shared by every operator that needs its input indexed by
// the same key (see Dataflow::arrange); only its owner updates it, once per
// epoch, before the operators that read it run. Readers must not hold
// RowRefs across an update. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "pgstream/engine/row.hpp"
#include "pgstream/engine/zset.hpp"

namespace pgstream::engine {

class Arrangement {
 public:
  explicit Arrangement(std::vector<std::uint32_t> key_columns);
  Arrangement(const Arrangement&) = delete;
  Arrangement& operator=(const Arrangement&) = delete;

  [[nodiscard]] const std::vector<std::uint32_t>& key_columns() const noexcept { return key_columns_; }

  // Adds `weight` copies of `row` (negative removes).
  void update(RowRef row, std::int64_t weight);
  void apply(const ZSet& delta);
  void clear();

  // Calls fn(RowRef row, int64 weight) for every live row whose key equals
  // `key` (a key row packed with RowPacker::pack_key).
  template <class F>
  void for_each_at(RowRef key, F&& fn) const {
    std::uint32_t ref = find_key(key, key.hash());
    while (ref != kNil) {
      Header h = header(ref);
      if (h.weight != 0) fn(RowRef(row_bytes(ref), h.size), h.weight);
      ref = h.next;
    }
  }
  // Sum of weights of the rows with this key.
  [[nodiscard]] std::int64_t weight_at(RowRef key) const;
  // Calls fn(RowRef row, int64 weight) for every live row.
  template <class F>
  void for_each(F&& fn) const {
    for (std::uint32_t head : keys_) {
      if (head == kNil) continue;
      for (std::uint32_t ref = head; ref != kNil;) {
        Header h = header(ref);
        if (h.weight != 0) fn(RowRef(row_bytes(ref), h.size), h.weight);
        ref = h.next;
      }
    }
  }
  // The weight of one row (0 if absent).
  [[nodiscard]] std::int64_t weight_of(RowRef row) const;

  [[nodiscard]] std::size_t distinct_rows() const noexcept { return live_rows_; }
  // Sum of the packed sizes of the live rows.
  [[nodiscard]] std::size_t row_bytes() const noexcept { return live_row_bytes_; }
  // Everything this arrangement holds: chunks and both hash tables.
  [[nodiscard]] std::size_t bytes() const noexcept;

 private:
  static constexpr std::uint32_t kNil = UINT32_MAX;
  struct Header {
    std::uint32_t next;  // next entry with the same key
    std::uint32_t size;  // row bytes
    std::int64_t weight;
  };
  // Entries are packed back to back without padding (the header is read
  // and written with memcpy), which keeps the overhead at 16 bytes per row.
  struct Chunk {
    std::unique_ptr<std::byte[]> bytes;
    std::uint32_t capacity = 0;
    std::uint32_t used = 0;
  };

  [[nodiscard]] Header header(std::uint32_t ref) const noexcept {
    Header h;
    std::memcpy(&h, entry(ref), sizeof h);
    return h;
  }
  void store(std::uint32_t ref, const Header& h) noexcept { std::memcpy(entry(ref), &h, sizeof h); }
  [[nodiscard]] const std::byte* row_bytes(std::uint32_t ref) const noexcept {
    return entry(ref) + sizeof(Header);
  }
  [[nodiscard]] std::byte* entry(std::uint32_t ref) const noexcept {
    return chunks_[ref >> 16].bytes.get() + (ref & 0xFFFF);
  }
  [[nodiscard]] std::uint32_t find_key(RowRef key, std::uint64_t hash) const;
  [[nodiscard]] std::uint32_t find_row(RowRef row, std::uint64_t hash) const;
  [[nodiscard]] bool key_matches(std::uint32_t ref, RowRef key) const;
  std::uint32_t allocate(RowRef row, std::int64_t weight);
  void insert_new(RowRef row, std::uint64_t row_hash, std::int64_t weight);
  void grow_rows();
  void grow_keys();
  void compact();
  [[nodiscard]] static std::uint32_t units_for(std::uint32_t row_size) noexcept {
    return static_cast<std::uint32_t>(sizeof(Header)) + row_size;
  }

  std::vector<std::uint32_t> key_columns_;
  std::vector<Chunk> chunks_;
  std::vector<std::uint32_t> rows_;     // open addressing: entry per distinct row ever seen
  std::vector<std::uint32_t> keys_;     // open addressing: head entry per key
  std::vector<std::uint8_t> row_tags_;  // hash byte per rows_ slot
  std::vector<std::uint8_t> key_tags_;  // hash byte per keys_ slot
  std::size_t row_count_ = 0;           // entries in rows_ (live and dead)
  std::size_t key_count_ = 0;
  std::size_t live_rows_ = 0;
  std::size_t live_row_bytes_ = 0;
  std::size_t live_units_ = 0;
  std::size_t dead_units_ = 0;
  mutable RowPacker scratch_;  // key extraction while probing
  RowPacker probe_scratch_;    // keys of chain heads while inserting
};

}  // namespace pgstream::engine
