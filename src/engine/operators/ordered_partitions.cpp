#include "pgstream/engine/operators/ordered_partitions.hpp"

#include <algorithm>

#include "pgstream/common/error.hpp"

namespace pgstream::engine {

namespace {
constexpr std::uint32_t kMinChunkBytes = 4096;      // small states stay small
constexpr std::uint32_t kMaxChunkBytes = 1U << 16;  // offsets fit in 16 bits
constexpr std::size_t kMaxChunks = 1U << 16;
// A table node: the key string, the partition, the next pointer, the hash.
constexpr std::size_t kNodeBytes = sizeof(std::string) + 40 + 2 * sizeof(void*);
constexpr std::size_t kSmallString = 15;  // libstdc++ keeps shorter keys inline
}  // namespace

OrderedPartitions::~OrderedPartitions() = default;

std::size_t OrderedPartitions::KeyHash::operator()(std::string_view key) const noexcept {
  return RowRef(reinterpret_cast<const std::byte*>(key.data()), static_cast<std::uint32_t>(key.size()))
      .hash();
}

std::size_t OrderedPartitions::bytes() const noexcept {
  std::size_t total = chunks_.capacity() * sizeof(Chunk);
  for (const Chunk& c : chunks_) total += c.capacity;
  total += partitions_.bucket_count() * sizeof(void*) + partitions_.size() * kNodeBytes + key_heap_bytes_;
  return total + vector_bytes_;
}

void OrderedPartitions::group(const ZSet& delta) {
  ++epoch_;
  touched_.clear();
  pending_.clear();
  for (auto u : delta) {
    key_.clear();
    key_.pack_key(u.row, *partition_);
    RowRef key = key_.row();
    std::string_view bytes(reinterpret_cast<const char*>(key.data()), key.size());
    auto it = partitions_.find(bytes);
    if (it == partitions_.end()) {
      it = partitions_.emplace(std::string(bytes), Partition{}).first;
      if (bytes.size() > kSmallString) key_heap_bytes_ += it->first.capacity() + 1;
    }
    Partition& p = it->second;
    if (p.epoch != epoch_) {
      p.epoch = epoch_;
      p.slot = static_cast<std::uint32_t>(touched_.size());
      touched_.push_back({&it->first, &p});
    }
    pending_.push_back({p.slot, u.row, u.weight});
  }
  std::sort(pending_.begin(), pending_.end(), [&](const Change& a, const Change& b) {
    if (a.slot != b.slot) return a.slot < b.slot;
    return less(a.row, b.row);
  });
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    Touched& t = touched_[pending_[i].slot];
    if (t.count == 0) t.first = i;
    ++t.count;
  }
}

std::size_t OrderedPartitions::vector_bytes(const std::vector<Block>& blocks) noexcept {
  std::size_t total = blocks.capacity() * sizeof(Block);
  for (const Block& block : blocks) total += block.capacity() * sizeof(std::uint32_t);
  return total;
}

void OrderedPartitions::apply(std::size_t touched) {
  const Touched& t = touched_[touched];
  std::vector<Block>& blocks = t.partition->blocks;
  vector_bytes_ -= vector_bytes(blocks);
  for (std::size_t i = t.first; i < t.first + t.count;) {
    RowRef row = pending_[i].row;
    std::int64_t weight = 0;
    for (; i < t.first + t.count && pending_[i].row == row; ++i) weight += pending_[i].weight;
    if (weight != 0) change(blocks, row, weight);
  }
  for (Block& block : blocks) {
    if (block.capacity() > 2 * block.size() + 8) block.shrink_to_fit();
  }
  vector_bytes_ += vector_bytes(blocks);
}

// Adds `weight` copies of `row` to the partition's blocks.
void OrderedPartitions::change(std::vector<Block>& blocks, RowRef row, std::int64_t weight) {
  auto ref_less = [&](std::uint32_t ref, RowRef r) { return less(entry_at(ref).row, r); };
  // The first block whose last row is not before `row`, else the last block.
  auto b = static_cast<std::size_t>(
      std::partition_point(blocks.begin(), blocks.end(),
                           [&](const Block& block) { return ref_less(block.back(), row); }) -
      blocks.begin());
  if (blocks.empty()) blocks.emplace_back();
  if (b == blocks.size()) --b;
  Block& block = blocks[b];
  auto pos = std::lower_bound(block.begin(), block.end(), row, ref_less);
  if (pos == block.end() || entry_at(*pos).row != row) {
    block.insert(pos, allocate(row, weight, chunks_));
    ++live_rows_;
    live_bytes_ += kHeader + row.size();
    if (block.size() > 2 * kBlock) {  // split
      Block upper(block.begin() + static_cast<std::ptrdiff_t>(kBlock), block.end());
      block.resize(kBlock);
      blocks.insert(blocks.begin() + static_cast<std::ptrdiff_t>(b) + 1, std::move(upper));
    }
    return;
  }
  std::int64_t now = entry_at(*pos).weight + weight;
  if (now != 0) {
    set_weight(*pos, now);
    return;
  }
  release(*pos);
  block.erase(pos);
  if (block.empty()) {
    blocks.erase(blocks.begin() + static_cast<std::ptrdiff_t>(b));
    return;
  }
  // A small block joins a neighbour when both fit in one.
  if (block.size() < kBlock / 4 && blocks.size() > 1) {
    std::size_t first = b + 1 < blocks.size() ? b : b - 1;
    if (blocks[first].size() + blocks[first + 1].size() <= 2 * kBlock) {
      blocks[first].insert(blocks[first].end(), blocks[first + 1].begin(), blocks[first + 1].end());
      blocks.erase(blocks.begin() + static_cast<std::ptrdiff_t>(first) + 1);
    }
  }
}

void OrderedPartitions::finish() {
  for (const Touched& t : touched_) {
    if (!t.partition->blocks.empty()) continue;
    auto it = partitions_.find(std::string_view(*t.key));
    if (it->first.size() > kSmallString) key_heap_bytes_ -= it->first.capacity() + 1;
    vector_bytes_ -= vector_bytes(it->second.blocks);
    partitions_.erase(it);
  }
  if (partitions_.bucket_count() > 64 && partitions_.size() * 8 < partitions_.bucket_count())
    partitions_.rehash(0);
  if (dead_bytes_ > live_bytes_ && dead_bytes_ > kMinChunkBytes) compact();
}

std::uint32_t OrderedPartitions::allocate(RowRef row, std::int64_t weight, std::vector<Chunk>& chunks) {
  std::uint32_t need = kHeader + row.size();
  if (chunks.empty() || chunks.back().capacity - chunks.back().used < need) {
    if (chunks.size() >= kMaxChunks)
      throw Error(ErrorKind::Internal,
                  "ordered partition state exceeds its addressable size (4 GiB of rows)");
    std::uint32_t last = chunks.empty() ? 0 : chunks.back().capacity;
    std::uint32_t capacity = std::clamp(last * 2, kMinChunkBytes, kMaxChunkBytes);
    capacity = std::max(capacity, need);  // a huge row gets a chunk of its own
    Chunk c;
    c.bytes = std::make_unique<std::byte[]>(capacity);
    c.capacity = capacity;
    chunks.push_back(std::move(c));
  }
  Chunk& c = chunks.back();
  auto ref = static_cast<std::uint32_t>(((chunks.size() - 1) << 16) | c.used);
  std::byte* e = c.bytes.get() + c.used;
  std::uint32_t size = row.size();
  std::memcpy(e, &weight, sizeof weight);
  std::memcpy(e + sizeof weight, &size, sizeof size);
  if (size > 0) std::memcpy(e + kHeader, row.data(), size);
  c.used += need;
  return ref;
}

void OrderedPartitions::release(std::uint32_t ref) {
  std::size_t size = kHeader + entry_at(ref).row.size();
  --live_rows_;
  live_bytes_ -= size;
  dead_bytes_ += size;
}

// Copies every live entry into fresh chunks and rewrites the references.
void OrderedPartitions::compact() {
  std::vector<Chunk> fresh;
  for (auto& [key, p] : partitions_) {
    for (Block& block : p.blocks) {
      for (std::uint32_t& ref : block) {
        Entry e = entry_at(ref);
        ref = allocate(e.row, e.weight, fresh);
      }
    }
  }
  chunks_ = std::move(fresh);
  dead_bytes_ = 0;
}

}  // namespace pgstream::engine
