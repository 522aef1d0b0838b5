// Row: a tuple of datums packed into one contiguous byte buffer.
//
// Contract: a Row's bytes are its datums' encodings back to back (see
// datum.hpp), with no header: its size is known from the container. Two
// rows are the same row exactly when their bytes are equal, so hashing and
// equality never decode. RowRef is a non-owning view (valid while the bytes
// live); Row owns its bytes; RowPacker builds rows into a buffer it reuses,
// so that building a row allocates nothing once the buffer has grown.
// Normalized packing (push_normalized / pack_key) maps values that SQL calls
// equal to equal bytes (numeric 1.0 and 1.00 both become 1; an interval
// becomes its justified form, as justify_interval returns it: '30 days' and
// '720:00:00' both become '1 mon'), for the keys of grouping, joins and
// DISTINCT, whose output shows the normalized form. Values inside arrays are
// not normalized. Not thread-safe to mutate; views are.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgstream/engine/datum.hpp"

namespace pgstream::engine {

// 64-bit hash of bytes (wyhash-style mixing): fast and well spread, not for adversaries.
[[nodiscard]] std::uint64_t hash_bytes(const std::byte* data, std::size_t size) noexcept;

class RowRef {
 public:
  RowRef() = default;
  RowRef(const std::byte* data, std::uint32_t size) noexcept : data_(data), size_(size) {}
  explicit RowRef(std::span<const std::byte> bytes) noexcept
      : data_(bytes.data()), size_(static_cast<std::uint32_t>(bytes.size())) {}

  [[nodiscard]] const std::byte* data() const noexcept { return data_; }
  [[nodiscard]] std::uint32_t size() const noexcept { return size_; }
  [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::uint64_t hash() const noexcept { return hash_bytes(data_, size_); }

  // Forward iteration over the datums.
  class Iterator {
   public:
    Iterator(const std::byte* at) noexcept : at_(at) {}  // NOLINT(google-explicit-constructor)
    DatumRef operator*() const noexcept { return DatumRef::decode(at_); }
    Iterator& operator++() noexcept {
      at_ += DatumRef::decode(at_).encoded_size();
      return *this;
    }
    bool operator!=(const Iterator& other) const noexcept { return at_ != other.at_; }

   private:
    const std::byte* at_;
  };
  [[nodiscard]] Iterator begin() const noexcept { return {data_}; }
  [[nodiscard]] Iterator end() const noexcept { return {data_ + size_}; }

  // The i-th datum (walks the row: O(i)). REQUIRES: i < arity().
  [[nodiscard]] DatumRef at(std::size_t i) const noexcept;
  [[nodiscard]] std::size_t arity() const noexcept;

  friend bool operator==(RowRef a, RowRef b) noexcept {
    return a.size_ == b.size_ && (a.size_ == 0 || std::memcmp(a.data_, b.data_, a.size_) == 0);
  }
  // Total order on bytes: a deterministic tie-breaker, not SQL order.
  [[nodiscard]] int compare_bytes(RowRef other) const noexcept;

 private:
  const std::byte* data_ = nullptr;
  std::uint32_t size_ = 0;
};

// An owned row.
class Row {
 public:
  Row() = default;
  explicit Row(RowRef ref) : bytes_(ref.data(), ref.data() + ref.size()) {}
  [[nodiscard]] RowRef ref() const noexcept {
    return {bytes_.data(), static_cast<std::uint32_t>(bytes_.size())};
  }
  operator RowRef() const noexcept { return ref(); }  // NOLINT(google-explicit-constructor)
  friend bool operator==(const Row& a, const Row& b) noexcept { return a.bytes_ == b.bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

class RowPacker {
 public:
  void clear() noexcept { buffer_.clear(); }
  [[nodiscard]] RowRef row() const noexcept {
    return {buffer_.data(), static_cast<std::uint32_t>(buffer_.size())};
  }
  [[nodiscard]] std::size_t size() const noexcept { return buffer_.size(); }
  // Drops everything after `size` (undo the last pushes).
  void truncate(std::size_t size) noexcept { buffer_.resize(size); }

  void push_null() { buffer_.push_back(static_cast<std::byte>(DatumKind::Null)); }
  void push_bool(bool v) { push_fixed(DatumKind::Bool, static_cast<std::uint8_t>(v ? 1 : 0)); }
  void push_int2(std::int16_t v) { push_fixed(DatumKind::Int2, v); }
  void push_int4(std::int32_t v) { push_fixed(DatumKind::Int4, v); }
  void push_int8(std::int64_t v) { push_fixed(DatumKind::Int8, v); }
  void push_float4(float v);
  void push_float8(double v);
  void push_numeric(const Numeric& v);
  void push_text(std::string_view v) { push_variable(DatumKind::Text, v.data(), v.size()); }
  void push_bpchar(std::string_view v);
  void push_bytea(std::span<const std::byte> v) { push_variable(DatumKind::Bytea, v.data(), v.size()); }
  void push_date(std::int32_t days) { push_fixed(DatumKind::Date, days); }
  void push_time(std::int64_t micros) { push_fixed(DatumKind::Time, micros); }
  void push_timestamp(std::int64_t micros) { push_fixed(DatumKind::Timestamp, micros); }
  void push_timestamptz(std::int64_t micros) { push_fixed(DatumKind::TimestampTz, micros); }
  void push_interval(const Interval& v);
  void push_uuid(std::span<const std::byte, 16> v);
  void push_json(std::string_view v) { push_variable(DatumKind::Json, v.data(), v.size()); }
  void push_jsonb(std::string_view v) { push_variable(DatumKind::Jsonb, v.data(), v.size()); }
  void push_pass_through(std::uint32_t oid, std::string_view text);
  // An array of `elements` (a packed row of datums) with the given lengths
  // and lower bounds per dimension (all dimensions: ndim = lengths.size()).
  void push_array(std::uint32_t element_oid, std::span<const std::int32_t> lengths,
                  std::span<const std::int32_t> lower_bounds, RowRef elements);
  // A one-dimensional array, lower bound 1.
  void push_array(std::uint32_t element_oid, RowRef elements);

  // Copies an existing datum (its canonical bytes).
  void push_datum(DatumRef d) { append(d.encoded().data(), d.encoded().size()); }
  // Copies a datum in its normalized (key) form.
  void push_normalized(DatumRef d);
  // Appends all datums of a row.
  void push_row(RowRef r) { append(r.data(), r.size()); }
  // Appends the datums at `columns` of `r`, normalized (a grouping/join key).
  void pack_key(RowRef r, std::span<const std::uint32_t> columns);
  // Appends the datums at `columns` of `r` as they are.
  void pack_columns(RowRef r, std::span<const std::uint32_t> columns);

  void append(const std::byte* data, std::size_t size) { buffer_.insert(buffer_.end(), data, data + size); }

 private:
  template <class T>
  void push_fixed(DatumKind kind, T v) {
    std::size_t at = buffer_.size();
    buffer_.resize(at + 1 + sizeof v);
    buffer_[at] = static_cast<std::byte>(kind);
    std::memcpy(buffer_.data() + at + 1, &v, sizeof v);
  }
  void push_variable(DatumKind kind, const void* data, std::size_t size);

  std::vector<std::byte> buffer_;
};

// Collects the datums at `columns` of `row` into `out` (out.size() >=
// columns.size()), in one pass over the row. REQUIRES: columns sorted or not,
// each < arity.
void gather_columns(RowRef row, std::span<const std::uint32_t> columns, std::span<DatumRef> out) noexcept;

// Whether any datum of the row is NULL (a join key with a NULL never matches).
[[nodiscard]] bool has_null(RowRef row) noexcept;

// Human-readable "(1, 'abc', NULL)" for tests and error messages.
[[nodiscard]] std::string debug_string(RowRef row);

}  // namespace pgstream::engine
