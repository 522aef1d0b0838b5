// Lsn: a position in PostgreSQL's write-ahead log (XLogRecPtr).
//
// A value type; trivially copyable and thread-safe to share. Its text form is
// PostgreSQL's pg_lsn form, "%X/%X" (high and low 32 bits in upper-case hex).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgstream {

class Lsn {
 public:
  constexpr Lsn() noexcept = default;
  constexpr explicit Lsn(std::uint64_t value) noexcept : value_(value) {}

  [[nodiscard]] constexpr std::uint64_t value() const noexcept { return value_; }
  [[nodiscard]] constexpr bool is_valid() const noexcept { return value_ != 0; }  // InvalidXLogRecPtr is 0

  // Parses "16/B374D848"; nullopt for anything that is not exactly that form.
  [[nodiscard]] static std::optional<Lsn> parse(std::string_view text) noexcept;
  [[nodiscard]] std::string to_string() const;

  constexpr auto operator<=>(const Lsn&) const noexcept = default;

 private:
  std::uint64_t value_ = 0;
};

}  // namespace pgstream
