#include "pgstream/engine/operators/top_k.hpp"

#include "pgstream/engine/operators/ordered_partitions.hpp"

namespace pgstream::engine {
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

namespace {

// The rows of one ordered partition that OFFSET/LIMIT keep, with `sign`.
void emit_window(const TopKSpec& spec, const OrderedPartitions::Rows& rows, std::int64_t sign, ZSet& out) {
  std::uint64_t skip = spec.offset;
  std::uint64_t take = spec.limit;
  RowRef last;
  bool any = false;
  for (auto it = rows.begin(); it != rows.end(); ++it) {
    OrderedPartitions::Entry e = *it;
    auto count = static_cast<std::uint64_t>(e.weight);
    if (take == 0) {
      // WITH TIES: every further row that sorts equal to the last one kept.
      if (!spec.with_ties || !any || compare_rows(e.row, last, spec.order, *spec.collation, false) != 0)
        break;
      out.add(e.row, sign * static_cast<std::int64_t>(count));
      continue;
    }
    if (skip >= count) {
      skip -= count;
      continue;
    }
    count -= skip;
    skip = 0;
    std::uint64_t n = std::min(count, take);
    take -= n;
    out.add(e.row, sign * static_cast<std::int64_t>(spec.with_ties && take == 0 ? count : n));
    last = e.row;
    any = true;
  }
}

}  // namespace

TopK::TopK(TopKSpec spec)
    : spec_(std::move(spec)),
      partitions_(std::make_unique<OrderedPartitions>(spec_.partition, spec_.order, *spec_.collation)) {}

TopK::~TopK() = default;

std::size_t TopK::state_bytes() const { return partitions_->bytes(); }

void TopK::step(std::span<const ZSet* const> inputs, ZSet& output) {
  const ZSet& delta = *inputs[0];
  if (delta.empty()) return;
  changes_.clear();
  partitions_->update(delta, [&](const OrderedPartitions::Rows& rows, std::int64_t sign) {
    emit_window(spec_, rows, sign, changes_);
  });
  changes_.consolidate();
  output.add_all(changes_);
}

}  // namespace pgstream::engine
