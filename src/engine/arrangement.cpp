#include "pgstream/engine/arrangement.hpp"

#include <algorithm>

#include "pgstream/common/error.hpp"

namespace pgstream::engine {
namespace {

constexpr std::uint32_t kMinChunkUnits = 4096;      // bytes: small arrangements stay small
constexpr std::uint32_t kMaxChunkUnits = 1U << 16;  // bytes: offsets fit in 16 bits
constexpr std::size_t kMaxChunks = 1U << 16;
constexpr std::uint32_t kEmpty = UINT32_MAX;

// Tables have any capacity (grown by 1.5x, not 2x, to keep memory close to
// what the rows need): a hash maps to a slot by multiply-shift, and probing
// wraps around.
std::size_t slot_of(std::uint64_t hash, std::size_t capacity) {
  return static_cast<std::size_t>((static_cast<UInt128>(hash) * capacity) >> 64);
}
std::size_t next_slot(std::size_t i, std::size_t capacity) { return i + 1 == capacity ? 0 : i + 1; }
std::size_t grown(std::size_t capacity) { return std::max<std::size_t>(16, capacity + capacity / 2); }
// One byte of the hash beside each slot: most probes of other rows or keys
// are rejected without touching the chunk memory they point at.
std::uint8_t tag_of(std::uint64_t hash) { return static_cast<std::uint8_t>(hash >> 56); }

}  // namespace

Arrangement::Arrangement(std::vector<std::uint32_t> key_columns) : key_columns_(std::move(key_columns)) {}

std::size_t Arrangement::bytes() const noexcept {
  std::size_t total = (rows_.capacity() + keys_.capacity()) * sizeof(std::uint32_t) + row_tags_.capacity() +
                      key_tags_.capacity();
  for (const Chunk& c : chunks_) total += c.capacity;
  return total + chunks_.capacity() * sizeof(Chunk);
}

void Arrangement::clear() {
  chunks_.clear();
  rows_.clear();
  keys_.clear();
  row_tags_.clear();
  key_tags_.clear();
  row_count_ = key_count_ = live_rows_ = live_row_bytes_ = live_units_ = dead_units_ = 0;
}

bool Arrangement::key_matches(std::uint32_t ref, RowRef key) const {
  scratch_.clear();
  scratch_.pack_key(RowRef(row_bytes(ref), header(ref).size), key_columns_);
  return scratch_.row() == key;
}

std::uint32_t Arrangement::find_key(RowRef key, std::uint64_t hash) const {
  if (keys_.empty()) return kNil;
  for (std::size_t i = slot_of(hash, keys_.size());; i = next_slot(i, keys_.size())) {
    std::uint32_t ref = keys_[i];
    if (ref == kEmpty) return kNil;
    if (key_tags_[i] == tag_of(hash) && key_matches(ref, key)) return ref;
  }
}

std::uint32_t Arrangement::find_row(RowRef row, std::uint64_t hash) const {
  if (rows_.empty()) return kNil;
  for (std::size_t i = slot_of(hash, rows_.size());; i = next_slot(i, rows_.size())) {
    std::uint32_t ref = rows_[i];
    if (ref == kEmpty) return kNil;
    if (row_tags_[i] == tag_of(hash) && RowRef(row_bytes(ref), header(ref).size) == row) return ref;
  }
}

std::int64_t Arrangement::weight_of(RowRef row) const {
  std::uint32_t ref = find_row(row, row.hash());
  return ref == kNil ? 0 : header(ref).weight;
}

std::int64_t Arrangement::weight_at(RowRef key) const {
  std::int64_t total = 0;
  for_each_at(key, [&](RowRef, std::int64_t w) { total += w; });
  return total;
}

std::uint32_t Arrangement::allocate(RowRef row, std::int64_t weight) {
  std::uint32_t need = units_for(row.size());
  if (chunks_.empty() || chunks_.back().capacity - chunks_.back().used < need) {
    if (chunks_.size() >= kMaxChunks)
      throw Error(ErrorKind::Internal, "arrangement exceeds its addressable size (4 GiB of rows)");
    std::uint32_t last = chunks_.empty() ? 0 : chunks_.back().capacity;
    std::uint32_t capacity = std::clamp(last * 2, kMinChunkUnits, kMaxChunkUnits);
    capacity = std::max(capacity, need);  // a huge row gets a chunk of its own
    Chunk c;
    c.bytes = std::make_unique<std::byte[]>(capacity);
    c.capacity = capacity;
    chunks_.push_back(std::move(c));
  }
  Chunk& c = chunks_.back();
  auto ref = static_cast<std::uint32_t>(((chunks_.size() - 1) << 16) | c.used);
  c.used += need;
  store(ref, Header{kNil, row.size(), weight});
  if (row.size() != 0) std::memcpy(entry(ref) + sizeof(Header), row.data(), row.size());
  return ref;
}

void Arrangement::grow_rows() {
  std::size_t capacity = grown(rows_.size());
  std::vector<std::uint32_t> next(capacity, kEmpty);
  std::vector<std::uint8_t> tags(capacity, 0);
  for (std::uint32_t ref : rows_) {
    if (ref == kEmpty) continue;
    std::uint64_t hash = RowRef(row_bytes(ref), header(ref).size).hash();
    std::size_t i = slot_of(hash, capacity);
    while (next[i] != kEmpty) i = next_slot(i, capacity);
    next[i] = ref;
    tags[i] = tag_of(hash);
  }
  rows_ = std::move(next);
  row_tags_ = std::move(tags);
}

void Arrangement::grow_keys() {
  std::size_t capacity = grown(keys_.size());
  std::vector<std::uint32_t> next(capacity, kEmpty);
  std::vector<std::uint8_t> tags(capacity, 0);
  for (std::uint32_t ref : keys_) {
    if (ref == kEmpty) continue;
    scratch_.clear();
    scratch_.pack_key(RowRef(row_bytes(ref), header(ref).size), key_columns_);
    std::uint64_t hash = scratch_.row().hash();
    std::size_t i = slot_of(hash, capacity);
    while (next[i] != kEmpty) i = next_slot(i, capacity);
    next[i] = ref;
    tags[i] = tag_of(hash);
  }
  keys_ = std::move(next);
  key_tags_ = std::move(tags);
}

void Arrangement::insert_new(RowRef row, std::uint64_t row_hash, std::int64_t weight) {
  if ((row_count_ + 1) * 10 > rows_.size() * 8) grow_rows();  // tags keep probes cheap at 80%
  if ((key_count_ + 1) * 10 > keys_.size() * 8) grow_keys();
  std::uint32_t ref = allocate(row, weight);
  std::size_t i = slot_of(row_hash, rows_.size());
  while (rows_[i] != kEmpty) i = next_slot(i, rows_.size());
  rows_[i] = ref;
  row_tags_[i] = tag_of(row_hash);
  ++row_count_;
  // Link it at the head of its key's chain (the key slot points at the head).
  RowPacker& key = probe_scratch_;
  scratch_.clear();
  scratch_.pack_key(row, key_columns_);
  std::uint64_t key_hash = scratch_.row().hash();
  for (std::size_t k = slot_of(key_hash, keys_.size());; k = next_slot(k, keys_.size())) {
    std::uint32_t head = keys_[k];
    if (head == kEmpty) {
      keys_[k] = ref;
      key_tags_[k] = tag_of(key_hash);
      ++key_count_;
      break;
    }
    if (key_tags_[k] != tag_of(key_hash)) continue;
    RowRef head_row(row_bytes(head), header(head).size);
    key.clear();
    key.pack_key(head_row, key_columns_);
    if (key.row() == scratch_.row()) {
      Header h = header(ref);
      h.next = head;
      store(ref, h);
      keys_[k] = ref;
      break;
    }
  }
}

void Arrangement::update(RowRef row, std::int64_t weight) {
  if (weight == 0) return;
  std::uint64_t hash = row.hash();
  std::uint32_t ref = find_row(row, hash);
  std::uint32_t units = units_for(row.size());
  if (ref == kNil) {
    insert_new(row, hash, weight);
    ++live_rows_;
    live_row_bytes_ += row.size();
    live_units_ += units;
    return;
  }
  Header h = header(ref);
  std::int64_t before = h.weight;
  h.weight += weight;
  store(ref, h);
  if (before == 0 && h.weight != 0) {  // revived
    ++live_rows_;
    live_row_bytes_ += row.size();
    live_units_ += units;
    dead_units_ -= units;
  } else if (before != 0 && h.weight == 0) {  // died: reclaimed by compaction
    --live_rows_;
    live_row_bytes_ -= row.size();
    live_units_ -= units;
    dead_units_ += units;
    if (dead_units_ > live_units_ && dead_units_ > kMinChunkUnits) compact();
  }
}

void Arrangement::apply(const ZSet& delta) {
  for (auto u : delta) update(u.row, u.weight);
}

void Arrangement::compact() {
  std::vector<Chunk> old_chunks = std::move(chunks_);
  std::vector<std::uint32_t> old_keys = std::move(keys_);
  chunks_.clear();
  rows_.clear();
  keys_.clear();
  row_tags_.clear();
  key_tags_.clear();
  row_count_ = key_count_ = 0;
  dead_units_ = 0;
  auto old_entry = [&](std::uint32_t ref) { return old_chunks[ref >> 16].bytes.get() + (ref & 0xFFFF); };
  for (std::uint32_t head : old_keys) {
    if (head == kEmpty) continue;
    for (std::uint32_t ref = head; ref != kNil;) {
      Header h;
      std::memcpy(&h, old_entry(ref), sizeof h);
      if (h.weight != 0) {
        RowRef row(old_entry(ref) + sizeof(Header), h.size);
        insert_new(row, row.hash(), h.weight);
      }
      ref = h.next;
    }
  }
}

}  // namespace pgstream::engine
