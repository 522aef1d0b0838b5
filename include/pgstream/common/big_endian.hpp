// Integers in network byte order (big-endian), as PostgreSQL's wire protocol
// and its binary formats (COPY binary, send/receive functions) carry them.
// Contract: pure, header-only; T is any integral type.
#pragma once

#include <cstddef>
#include <string>
#include <type_traits>

namespace pgstream {

// Writes sizeof(T) bytes at `out`, most significant first.
template <class T>
void store_big_endian(char* out, T value) noexcept {
  static_assert(std::is_integral_v<T>);
  auto bits = static_cast<std::make_unsigned_t<T>>(value);
  for (std::size_t i = sizeof(T); i-- > 0;) {
    out[i] = static_cast<char>(bits & 0xFFU);
    bits = static_cast<std::make_unsigned_t<T>>(bits >> 8U);
  }
}

template <class T>
void append_big_endian(std::string& out, T value) {
  char bytes[sizeof(T)];
  store_big_endian(bytes, value);
  out.append(bytes, sizeof(T));
}

}  // namespace pgstream
