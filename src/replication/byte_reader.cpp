#include "replication/byte_reader.hpp"

#include <string>

#include "pgstream/common/error.hpp"

namespace pgstream::replication {

void ByteReader::need(std::size_t size, const char* what) const {
  if (size > remaining()) {
    fail(std::string(what) + " needs " + std::to_string(size) + " bytes at offset " + std::to_string(pos_) +
         ", only " + std::to_string(remaining()) + " left");
  }
}

void ByteReader::fail(std::string_view what) const {
  throw Error(
      ErrorKind::Protocol, "malformed " + std::string(context_) + ": " + std::string(what),
      {.sqlstate = "08P01",
       .detail = "The logical replication stream sent bytes that do not follow the pgoutput protocol.",
       .hint =
           "Check that the slot uses the pgoutput plugin and that the server is PostgreSQL 15 or newer."});
}

std::uint8_t ByteReader::u8(const char* what) {
  need(1, what);
  return static_cast<std::uint8_t>(data_[pos_++]);
}

std::int16_t ByteReader::i16(const char* what) {
  need(2, what);
  const auto* p = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
  pos_ += 2;
  return static_cast<std::int16_t>(static_cast<std::uint16_t>((p[0] << 8U) | p[1]));
}

std::int32_t ByteReader::i32(const char* what) {
  need(4, what);
  const auto* p = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
  pos_ += 4;
  const std::uint32_t v = (std::uint32_t{p[0]} << 24U) | (std::uint32_t{p[1]} << 16U) |
                          (std::uint32_t{p[2]} << 8U) | std::uint32_t{p[3]};
  return static_cast<std::int32_t>(v);
}

std::int64_t ByteReader::i64(const char* what) {
  need(8, what);
  const auto* p = reinterpret_cast<const unsigned char*>(data_.data() + pos_);
  pos_ += 8;
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8U) | std::uint64_t{p[i]};
  return static_cast<std::int64_t>(v);
}

std::string_view ByteReader::cstring(const char* what) {
  const std::size_t nul = data_.find('\0', pos_);
  if (nul == std::string_view::npos) fail(std::string(what) + " is not NUL-terminated");
  std::string_view out = data_.substr(pos_, nul - pos_);
  pos_ = nul + 1;
  return out;
}

std::string_view ByteReader::bytes(std::size_t size, const char* what) {
  need(size, what);
  std::string_view out = data_.substr(pos_, size);
  pos_ += size;
  return out;
}

std::string_view ByteReader::counted_bytes(const char* what) {
  const std::int32_t size = i32(what);
  if (size < 0) fail(std::string(what) + " has negative length " + std::to_string(size));
  return bytes(static_cast<std::size_t>(size), what);
}

void ByteReader::expect_end() const {
  if (remaining() != 0) fail(std::to_string(remaining()) + " unexpected trailing bytes");
}

}  // namespace pgstream::replication
