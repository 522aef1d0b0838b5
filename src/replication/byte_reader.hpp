// ByteReader: a bounded, big-endian reader over one wire message.
//
// Contract: every read checks that the bytes exist; reading past the end, a
// string without its terminating NUL, or a negative length throws
// pgstream::Error(ErrorKind::Protocol) naming what was being read. Views it
// returns point into the reader's input and live as long as that input.
// Private to the replication module.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pgstream::replication {

class ByteReader {
 public:
  // `context` names the message being read ("Relation message"); it must
  // outlive the reader (a string literal).
  ByteReader(std::string_view data, const char* context) noexcept : data_(data), context_(context) {}

  // The reads are inline: they run for every column of every row.
  [[nodiscard]] std::uint8_t u8(const char* what) {
    need(1, what);
    return static_cast<std::uint8_t>(data_[pos_++]);
  }
  [[nodiscard]] std::int16_t i16(const char* what) { return static_cast<std::int16_t>(big_endian(2, what)); }
  [[nodiscard]] std::uint16_t u16(const char* what) {
    return static_cast<std::uint16_t>(big_endian(2, what));
  }
  [[nodiscard]] std::int32_t i32(const char* what) { return static_cast<std::int32_t>(big_endian(4, what)); }
  [[nodiscard]] std::uint32_t u32(const char* what) {
    return static_cast<std::uint32_t>(big_endian(4, what));
  }
  [[nodiscard]] std::int64_t i64(const char* what) { return static_cast<std::int64_t>(big_endian(8, what)); }
  [[nodiscard]] std::uint64_t u64(const char* what) { return big_endian(8, what); }

  // A NUL-terminated string; the view excludes the NUL.
  [[nodiscard]] std::string_view cstring(const char* what);
  // Exactly `size` bytes.
  [[nodiscard]] std::string_view bytes(std::size_t size, const char* what) {
    need(size, what);
    std::string_view out = data_.substr(pos_, size);
    pos_ += size;
    return out;
  }
  // An Int32 length (which must be >= 0) followed by that many bytes.
  [[nodiscard]] std::string_view counted_bytes(const char* what) {
    const std::int32_t size = i32(what);
    if (size < 0) fail_negative(size, what);
    return bytes(static_cast<std::size_t>(size), what);
  }

  [[nodiscard]] std::size_t remaining() const noexcept { return data_.size() - pos_; }
  [[nodiscard]] std::size_t position() const noexcept { return pos_; }

  // Throws unless every byte was read: trailing garbage is malformed input.
  void expect_end() const;

  // Throws Error(Protocol) "malformed <context>: <what>".
  [[noreturn]] void fail(std::string_view what) const;

 private:
  void need(std::size_t size, const char* what) const {
    if (size > remaining()) fail_short(size, what);
  }
  // An unsigned big-endian integer of `size` (<= 8) bytes.
  std::uint64_t big_endian(std::size_t size, const char* what) {
    need(size, what);
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < size; ++i) {
      value = (value << 8U) | static_cast<std::uint8_t>(data_[pos_ + i]);
    }
    pos_ += size;
    return value;
  }
  [[noreturn]] void fail_short(std::size_t size, const char* what) const;
  [[noreturn]] void fail_negative(std::int32_t size, const char* what) const;

  std::string_view data_;
  std::size_t pos_ = 0;
  const char* context_;
};

}  // namespace pgstream::replication
