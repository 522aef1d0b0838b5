#include "pgstream/engine/zset.hpp"

#include <algorithm>

#include "pgstream/common/error.hpp"

namespace pgstream::engine {
namespace {

void check_arena(std::size_t size) {
  if (size > UINT32_MAX)
    throw Error(ErrorKind::Internal, "a single epoch's delta exceeds 4 GiB",
                {.hint = "split the source transaction into smaller batches"});
}

}  // namespace

void ZSet::add(RowRef row, std::int64_t weight) {
  if (weight == 0) return;
  std::size_t at = bytes_.size();
  check_arena(at + row.size());
  bytes_.insert(bytes_.end(), row.data(), row.data() + row.size());
  entries_.push_back({static_cast<std::uint32_t>(at), row.size(), weight});
}

void ZSet::add_all(const ZSet& other, std::int64_t scale) {
  if (scale == 0) return;
  std::size_t base = bytes_.size();
  check_arena(base + other.bytes_.size());
  bytes_.insert(bytes_.end(), other.bytes_.begin(), other.bytes_.end());
  entries_.reserve(entries_.size() + other.entries_.size());
  for (const Entry& e : other.entries_) {
    entries_.push_back({static_cast<std::uint32_t>(base + e.offset), e.size, e.weight * scale});
  }
}

void ZSet::consolidate() {
  if (entries_.empty()) return;
  // Sort by (hash, bytes): integer comparisons decide almost every pair,
  // so consolidation costs one hash per row instead of many memcmps.
  const std::byte* base = bytes_.data();
  order_.resize(entries_.size());
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const Entry& e = entries_[i];
    order_[i] = {hash_bytes(base + e.offset, e.size), static_cast<std::uint32_t>(i)};
  }
  auto row = [&](std::uint32_t i) { return RowRef(base + entries_[i].offset, entries_[i].size); };
  std::sort(order_.begin(), order_.end(), [&](const Keyed& a, const Keyed& b) {
    if (a.hash != b.hash) return a.hash < b.hash;
    return row(a.index).compare_bytes(row(b.index)) < 0;
  });
  sorted_.clear();
  for (std::size_t i = 0; i < order_.size();) {
    Entry merged = entries_[order_[i].index];
    std::size_t j = i + 1;
    while (j < order_.size() && order_[j].hash == order_[i].hash &&
           row(order_[j].index) == row(order_[i].index)) {
      merged.weight += entries_[order_[j].index].weight;
      ++j;
    }
    if (merged.weight != 0) sorted_.push_back(merged);
    i = j;
  }
  entries_.swap(sorted_);
}

std::int64_t ZSet::total_weight() const noexcept {
  std::int64_t sum = 0;
  for (const Entry& e : entries_) sum += e.weight;
  return sum;
}

}  // namespace pgstream::engine
