#include "pgstream/common/lsn.hpp"

#include <charconv>
#include <cstdio>

namespace pgstream {

namespace {

std::optional<std::uint32_t> parse_hex32(std::string_view text) noexcept {
  if (text.empty() || text.size() > 8) return std::nullopt;
  std::uint32_t value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, 16);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

}  // namespace

std::optional<Lsn> Lsn::parse(std::string_view text) noexcept {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto high = parse_hex32(text.substr(0, slash));
  auto low = parse_hex32(text.substr(slash + 1));
  if (!high || !low) return std::nullopt;
  return Lsn((std::uint64_t{*high} << 32U) | *low);
}

std::string Lsn::to_string() const {
  char buffer[24];
  const int n = std::snprintf(buffer, sizeof buffer, "%X/%X", static_cast<unsigned>(value_ >> 32U),
                              static_cast<unsigned>(value_ & 0xFFFFFFFFU));
  return {buffer, static_cast<std::size_t>(n)};
}

}  // namespace pgstream
