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

  [[nodiscard]] std::uint8_t u8(const char* what);
  [[nodiscard]] std::int16_t i16(const char* what);
  [[nodiscard]] std::uint16_t u16(const char* what) { return static_cast<std::uint16_t>(i16(what)); }
  [[nodiscard]] std::int32_t i32(const char* what);
  [[nodiscard]] std::uint32_t u32(const char* what) { return static_cast<std::uint32_t>(i32(what)); }
  [[nodiscard]] std::int64_t i64(const char* what);
  [[nodiscard]] std::uint64_t u64(const char* what) { return static_cast<std::uint64_t>(i64(what)); }

  // A NUL-terminated string; the view excludes the NUL.
  [[nodiscard]] std::string_view cstring(const char* what);
  // Exactly `size` bytes.
  [[nodiscard]] std::string_view bytes(std::size_t size, const char* what);
  // An Int32 length (which must be >= 0) followed by that many bytes.
  [[nodiscard]] std::string_view counted_bytes(const char* what);

  [[nodiscard]] std::size_t remaining() const noexcept { return data_.size() - pos_; }
  [[nodiscard]] std::size_t position() const noexcept { return pos_; }

  // Throws unless every byte was read: trailing garbage is malformed input.
  void expect_end() const;

  // Throws Error(Protocol) "malformed <context>: <what>".
  [[noreturn]] void fail(std::string_view what) const;

 private:
  void need(std::size_t size, const char* what) const;

  std::string_view data_;
  std::size_t pos_ = 0;
  const char* context_;
};

}  // namespace pgstream::replication
