#include "replication/byte_reader.hpp"

#include <string>

#include "pgstream/common/error.hpp"

namespace pgstream::replication {

void ByteReader::fail_short(std::size_t size, const char* what) const {
  fail(std::string(what) + " needs " + std::to_string(size) + " bytes at offset " + std::to_string(pos_) +
       ", only " + std::to_string(remaining()) + " left");
}

void ByteReader::fail_negative(std::int32_t size, const char* what) const {
  fail(std::string(what) + " has negative length " + std::to_string(size));
}

void ByteReader::fail(std::string_view what) const {
  throw Error(
      ErrorKind::Protocol, "malformed " + std::string(context_) + ": " + std::string(what),
      {.sqlstate = "08P01",
       .detail = "The logical replication stream sent bytes that do not follow the pgoutput protocol.",
       .hint =
           "Check that the slot uses the pgoutput plugin and that the server is PostgreSQL 15 or newer."});
}

std::string_view ByteReader::cstring(const char* what) {
  const std::size_t nul = data_.find('\0', pos_);
  if (nul == std::string_view::npos) fail(std::string(what) + " is not NUL-terminated");
  std::string_view out = data_.substr(pos_, nul - pos_);
  pos_ = nul + 1;
  return out;
}

void ByteReader::expect_end() const {
  if (remaining() != 0) fail(std::to_string(remaining()) + " unexpected trailing bytes");
}

}  // namespace pgstream::replication
