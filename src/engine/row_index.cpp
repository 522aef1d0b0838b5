#include "pgstream/engine/row_index.hpp"

#include <algorithm>

namespace pgstream::engine {

RowIndex::Found RowIndex::find_or_insert(RowRef row) { return find_or_insert(row, row.hash()); }

RowIndex::Found RowIndex::find_or_insert(RowRef row, std::uint64_t hash) {
  if ((entries_.size() + 1) * 10 > slots_.size() * 7) grow();
  auto tag = static_cast<std::uint32_t>(hash >> 40);
  std::size_t mask = slots_.size() - 1;
  for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
    std::uint32_t id = slots_[i];
    if (id == kNone) {
      auto new_id = static_cast<std::uint32_t>(entries_.size());
      Entry e{};
      e.offset = arena_.size();
      e.hash_tag = tag;
      e.size = row.size();
      arena_.insert(arena_.end(), row.data(), row.data() + row.size());
      entries_.push_back(e);
      slots_[i] = new_id;
      return {new_id, true};
    }
    if (entries_[id].hash_tag == tag && this->row(id) == row) return {id, false};
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
    if (entries_[id].hash_tag == tag && this->row(id) == row) return id;
  }
}

void RowIndex::grow() {
  std::size_t capacity = std::max<std::size_t>(16, slots_.size() * 2);
  slots_.assign(capacity, kNone);
  std::size_t mask = capacity - 1;
  for (std::uint32_t id = 0; id < entries_.size(); ++id) {
    std::size_t i = row(id).hash() & mask;
    while (slots_[i] != kNone) i = (i + 1) & mask;
    slots_[i] = id;
  }
}

void RowIndex::clear() {
  arena_.clear();
  entries_.clear();
  slots_.clear();
}

RowRef normalize_row(RowRef row, RowPacker& scratch) {
  bool needed = false;
  for (DatumRef d : row) needed = needed || d.kind() == DatumKind::Numeric;
  if (!needed) return row;
  scratch.clear();
  for (DatumRef d : row) scratch.push_normalized(d);
  return scratch.row();
}

}  // namespace pgstream::engine
