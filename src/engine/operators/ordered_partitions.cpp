#include "pgstream/engine/operators/ordered_partitions.hpp"

namespace pgstream::engine {

namespace {
// Approximate bytes of one std::map node besides the row itself.
constexpr std::size_t kNodeOverhead = 64;
}  // namespace

bool OrderedPartitions::Less::operator()(const std::string& a, const std::string& b) const {
  return compare_rows(row_of(a), row_of(b), *order, *collation, true) < 0;
}

void OrderedPartitions::add(Rows& rows, RowRef row, std::int64_t weight) {
  std::string bytes(reinterpret_cast<const char*>(row.data()), row.size());
  auto [it, inserted] = rows.try_emplace(std::move(bytes), 0);
  if (inserted) row_bytes_ += row.size() + kNodeOverhead;
  it->second += weight;
  if (it->second == 0) {
    row_bytes_ -= row.size() + kNodeOverhead;
    rows.erase(it);
  }
}

}  // namespace pgstream::engine
