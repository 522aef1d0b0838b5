#include "pgstream/engine/row_index.hpp"

#include <algorithm>

namespace pgstream::engine {

namespace {

// Smallest power-of-two table (at least 16 slots) holding `rows` at <= 35%
// load: room to grow to 70% before the next rehash.
std::size_t table_for(std::size_t rows) {
  std::size_t capacity = 16;
  while (rows * 20 > capacity * 7) capacity *= 2;
  return capacity;
}

}  // namespace

RowIndex::Found RowIndex::find_or_insert(RowRef row) { return find_or_insert(row, row.hash()); }

RowIndex::Found RowIndex::find_or_insert(RowRef row, std::uint64_t hash) {
  if ((size() + tombstones_ + 1) * 10 > slots_.size() * 7) {
    // Grow, or clear the tombstones; shrink only below 10% load (so that
    // a churning index does not flip between two sizes).
    std::size_t capacity = table_for(size() + 1);
    if (capacity < slots_.size() && size() * 10 > slots_.size()) capacity = slots_.size();
    rehash(capacity);
  }
  auto tag = static_cast<std::uint32_t>(hash >> 40);
  std::size_t mask = slots_.size() - 1;
  std::size_t reuse = SIZE_MAX;  // the first tombstone on the probe path
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    std::uint32_t id = slots_[i];
    if (id == kNone) {
      if (reuse != SIZE_MAX) {
        i = reuse;
        --tombstones_;
      }
      Entry e{};
      e.offset = arena_.size();
      e.hash_tag = tag;
      e.size = row.size();
      arena_.insert(arena_.end(), row.data(), row.data() + row.size());
      live_bytes_ += row.size();
      std::uint32_t new_id;
      if (free_ids_.empty()) {
        new_id = static_cast<std::uint32_t>(entries_.size());
        entries_.push_back(e);
      } else {
        new_id = free_ids_.back();
        free_ids_.pop_back();
        entries_[new_id] = e;
      }
      slots_[i] = new_id;
      return {new_id, true};
    }
    if (id == kTombstone) {
      if (reuse == SIZE_MAX) reuse = i;
    } else if (entries_[id].hash_tag == tag && this->row(id) == row) {
      return {id, false};
    }
  }
}

std::uint32_t RowIndex::find(RowRef row) const {
  if (slots_.empty()) return kNone;
  std::uint64_t hash = row.hash();
  auto tag = static_cast<std::uint32_t>(hash >> 40);
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    std::uint32_t id = slots_[i];
    if (id == kNone) return kNone;
    if (id != kTombstone && entries_[id].hash_tag == tag && this->row(id) == row) return id;
  }
}

void RowIndex::erase(std::uint32_t id) {
  std::size_t mask = slots_.size() - 1;
  std::size_t i = row(id).hash() & mask;
  while (slots_[i] != id) i = (i + 1) & mask;
  slots_[i] = kTombstone;
  ++tombstones_;
  live_bytes_ -= entries_[id].size;
  entries_[id].size = kDead;
  free_ids_.push_back(id);
  if (arena_.size() - live_bytes_ > live_bytes_) compact();
}

// Copies the live rows into a new arena in id order (ids do not change).
void RowIndex::compact() {
  std::vector<std::byte> arena;
  arena.reserve(live_bytes_ + live_bytes_ / 2);
  for (Entry& e : entries_) {
    if (e.size == kDead) continue;
    const std::byte* at = arena_.data() + e.offset;
    e.offset = arena.size();
    arena.insert(arena.end(), at, at + e.size);
  }
  arena_.swap(arena);
}

void RowIndex::rehash(std::size_t capacity) {
  if (capacity != slots_.size()) {
    std::vector<std::uint32_t>(capacity, kNone).swap(slots_);  // shrinks too
  } else {
    std::fill(slots_.begin(), slots_.end(), kNone);
  }
  tombstones_ = 0;
  std::size_t mask = capacity - 1;
  for (std::uint32_t id = 0; id < entries_.size(); ++id) {
    if (entries_[id].size == kDead) continue;
    std::size_t i = row(id).hash() & mask;
    while (slots_[i] != kNone) i = (i + 1) & mask;
    slots_[i] = id;
  }
}

void RowIndex::clear() {
  arena_.clear();
  entries_.clear();
  slots_.clear();
  free_ids_.clear();
  tombstones_ = 0;
  live_bytes_ = 0;
}

RowRef normalize_row(RowRef row, RowPacker& scratch) {
  bool needed = false;
  for (DatumRef d : row) needed = needed || d.kind() == DatumKind::Numeric || d.kind() == DatumKind::Interval;
  if (!needed) return row;
  scratch.clear();
  for (DatumRef d : row) scratch.push_normalized(d);
  return scratch.row();
}

}  // namespace pgstream::engine
