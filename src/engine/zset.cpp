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
  const std::byte* base = bytes_.data();
  auto less = [base](const Entry& a, const Entry& b) {
    return RowRef(base + a.offset, a.size).compare_bytes(RowRef(base + b.offset, b.size)) < 0;
  };
  std::sort(entries_.begin(), entries_.end(), less);
  std::size_t out = 0;
  for (std::size_t i = 0; i < entries_.size();) {
    Entry merged = entries_[i];
    std::size_t j = i + 1;
    while (j < entries_.size() &&
           RowRef(base + entries_[j].offset, entries_[j].size) == RowRef(base + merged.offset, merged.size)) {
      merged.weight += entries_[j].weight;
      ++j;
    }
    if (merged.weight != 0) entries_[out++] = merged;
    i = j;
  }
  entries_.resize(out);
}

std::int64_t ZSet::total_weight() const noexcept {
  std::int64_t sum = 0;
  for (const Entry& e : entries_) sum += e.weight;
  return sum;
}

}  // namespace pgstream::engine
