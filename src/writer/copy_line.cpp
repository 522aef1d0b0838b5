#include "pgstream/writer/copy_line.hpp"

#include <cstddef>

namespace pgstream::writer {

namespace {

constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr std::uint64_t kFnvPrime = 0x100000001b3ULL;

std::uint64_t fnv1a(std::uint64_t hash, std::string_view bytes) noexcept {
  for (const char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

}  // namespace

void split_copy_fields(std::string_view line, std::vector<std::string_view>& fields) {
  fields.clear();
  std::size_t start = 0;
  for (;;) {
    const std::size_t tab = line.find('\t', start);
    if (tab == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return;
    }
    fields.push_back(line.substr(start, tab - start));
    start = tab + 1;
  }
}

std::int64_t stable_hash(std::string_view bytes) noexcept {
  return static_cast<std::int64_t>(fnv1a(kFnvOffset, bytes));
}

std::int64_t stable_hash(std::span<const std::string_view> fields, std::span<const int> indexes) noexcept {
  std::uint64_t hash = kFnvOffset;
  bool first = true;
  for (const int index : indexes) {
    if (!first) hash = fnv1a(hash, "\t");
    first = false;
    hash = fnv1a(hash, fields[static_cast<std::size_t>(index)]);
  }
  return static_cast<std::int64_t>(hash);
}

}  // namespace pgstream::writer
