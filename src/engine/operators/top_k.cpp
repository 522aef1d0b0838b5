#include "pgstream/engine/operators/top_k.hpp"

namespace pgstream::engine {
namespace {

RowRef as_row(const std::string& s) {
  return {reinterpret_cast<const std::byte*>(s.data()), static_cast<std::uint32_t>(s.size())};
}

}  // namespace

int compare_rows(RowRef a, RowRef b, const std::vector<SortKey>& keys, const Collation& collation,
                 bool total) {
  for (const SortKey& k : keys) {
    DatumRef x = a.at(k.column);
    DatumRef y = b.at(k.column);
    int c = 0;
    if (x.is_null() || y.is_null()) {
      if (x.is_null() != y.is_null()) c = (x.is_null() == k.nulls_first) ? -1 : 1;
    } else {
      c = compare_datums(x, y, collation);
      if (k.descending) c = -c;
    }
    if (c != 0) return c;
  }
  return total ? a.compare_bytes(b) : 0;
}

bool TopK::Less::operator()(const std::string& a, const std::string& b) const {
  return compare_rows(as_row(a), as_row(b), spec->order, *spec->collation, true) < 0;
}

TopK::TopK(TopKSpec spec) : spec_(std::move(spec)) {}

void TopK::emit_window(const Rows& rows, std::int64_t sign, ZSet& out) const {
  std::uint64_t skip = spec_.offset;
  std::uint64_t take = spec_.limit;
  for (auto it = rows.begin(); it != rows.end() && take > 0; ++it) {
    auto count = static_cast<std::uint64_t>(it->second);
    if (skip >= count) {
      skip -= count;
      continue;
    }
    count -= skip;
    skip = 0;
    std::uint64_t n = std::min(count, take);
    take -= n;
    out.add(as_row(it->first), sign * static_cast<std::int64_t>(n));
  }
}

void TopK::step(std::span<const ZSet* const> inputs, ZSet& output) {
  const ZSet& delta = *inputs[0];
  if (delta.empty()) return;
  ++epoch_;
  touched_.clear();
  changes_.clear();
  for (auto u : delta) {
    key_.clear();
    key_.pack_key(u.row, spec_.partition);
    auto found = partitions_.find_or_insert(key_.row());
    if (found.inserted) {
      rows_.emplace_back(Less{&spec_});
      touched_epoch_.push_back(0);
    }
    Rows& rows = rows_[found.id];
    if (touched_epoch_[found.id] != epoch_) {
      touched_epoch_[found.id] = epoch_;
      touched_.push_back(found.id);
      emit_window(rows, -1, changes_);
    }
    std::string bytes(reinterpret_cast<const char*>(u.row.data()), u.row.size());
    auto [it, inserted] = rows.try_emplace(std::move(bytes), 0);
    if (inserted) row_bytes_ += u.row.size() + 64;
    it->second += u.weight;
    if (it->second == 0) {
      row_bytes_ -= u.row.size() + 64;
      rows.erase(it);
    }
  }
  for (std::uint32_t id : touched_) emit_window(rows_[id], 1, changes_);
  changes_.consolidate();
  output.add_all(changes_);
}

}  // namespace pgstream::engine
