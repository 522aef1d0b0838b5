// Numeric: PostgreSQL's exact decimal type (numeric / decimal).
//
// Contract: a value is NaN, +Infinity, -Infinity or a finite decimal
// mantissa * 10^-dscale of arbitrary precision. dscale is PostgreSQL's
// display scale and follows its rules: a + b and a - b have
// max(dscale_a, dscale_b); a * b has dscale_a + dscale_b; division rounds
// the exact quotient half away from zero to the scale select_div_scale()
// picks; sqrt rounds the exact root to numeric_sqrt's scale (or a given one).
// Comparison follows PostgreSQL: NaN equals NaN and sorts above +Infinity.
// Values are regular objects (copyable, not thread-safe to mutate).
// Packed form (inside a Row): [u8 special][u8 negative][u16 dscale][u32 limbs
// base 1e9, least significant first, no leading zero limbs].
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgstream/engine/int128.hpp"

namespace pgstream::engine {

class Numeric {
 public:
  enum class Special : std::uint8_t { Finite = 0, NaN = 1, PosInf = 2, NegInf = 3 };

  Numeric() = default;  // finite zero, dscale 0
  static Numeric from_int(std::int64_t value);
  static Numeric from_int128(Int128 value);
  static Numeric nan();
  static Numeric infinity(bool negative);
  // Parses PostgreSQL's numeric input: [+-]digits[.digits][e[+-]digits], NaN,
  // [+-]Infinity (case-insensitive). Throws Error (22P02) on bad input.
  static Numeric parse(std::string_view text);
  // Reads the packed form; REQUIRES: bytes came from pack().
  static Numeric unpack(std::span<const std::byte> bytes);
  // mantissa * 10^-dscale (what scaled_int128 inverts).
  static Numeric from_scaled_int128(Int128 mantissa, std::uint16_t dscale);
  // Parts of a packed form, read without unpacking (no allocation).
  static Special packed_special(std::span<const std::byte> packed) noexcept {
    return static_cast<Special>(packed[0]);
  }
  static std::uint16_t packed_dscale(std::span<const std::byte> packed) noexcept;
  // The packed finite value times 10^scale as an Int128 in `out`; false (out
  // unspecified) when it does not fit. REQUIRES: finite, scale >= its dscale.
  static bool packed_scaled_int128(std::span<const std::byte> packed, std::uint16_t scale,
                                   Int128& out) noexcept;

  [[nodiscard]] std::string to_string() const;
  // Appends the packed form to out.
  void pack(std::vector<std::byte>& out) const;
  [[nodiscard]] std::size_t packed_size() const { return 4 + limbs_.size() * 4; }

  [[nodiscard]] Special special() const { return special_; }
  [[nodiscard]] bool is_nan() const { return special_ == Special::NaN; }
  [[nodiscard]] bool is_finite() const { return special_ == Special::Finite; }
  [[nodiscard]] bool is_zero() const { return is_finite() && limbs_.empty(); }
  [[nodiscard]] bool negative() const { return negative_; }
  [[nodiscard]] std::uint16_t dscale() const { return dscale_; }

  // Same value, smallest dscale (trailing fractional zeros dropped): the form
  // used for grouping and join keys, where 1.0 and 1.00 are equal.
  [[nodiscard]] Numeric normalized() const;
  // Rounds (half away from zero) or extends to exactly `scale` digits.
  [[nodiscard]] Numeric rescaled(std::uint16_t scale) const;

  [[nodiscard]] Numeric add(const Numeric& other) const;
  [[nodiscard]] Numeric sub(const Numeric& other) const;
  [[nodiscard]] Numeric mul(const Numeric& other) const;
  // this / divisor with PostgreSQL's numeric_div result scale (as avg uses).
  // Throws Error (22012) on division by zero.
  [[nodiscard]] Numeric div_int(std::int64_t divisor) const;
  // this / divisor, exact quotient rounded half away from zero to
  // select_div_scale(this, divisor) digits (PostgreSQL's numeric_div,
  // specials included). Throws Error (22012) on division by zero.
  [[nodiscard]] Numeric div(const Numeric& divisor) const;
  // PostgreSQL's select_div_scale(this, divisor).
  [[nodiscard]] int div_scale(const Numeric& divisor) const;
  // Square root with numeric_sqrt's result scale (at least 16 significant
  // digits, at least the input's dscale), correctly rounded. NaN -> NaN,
  // +Infinity -> +Infinity; negative input throws Error (2201F).
  [[nodiscard]] Numeric sqrt() const;
  // Square root rounded half up to exactly `scale` digits (sqrt_var's
  // rounding). REQUIRES: finite and not negative.
  [[nodiscard]] Numeric sqrt_scaled(std::uint16_t scale) const;
  [[nodiscard]] double to_double() const;

  // <0, 0, >0 in PostgreSQL's order (NaN greatest).
  [[nodiscard]] int compare(const Numeric& other) const;
  friend bool operator==(const Numeric& a, const Numeric& b) { return a.compare(b) == 0; }

 private:
  int compare_magnitude(const Numeric& other) const;  // finite only, ignores sign
  void trim();
  void mag_increment();
  Numeric add_signed(const Numeric& other, bool negate_other) const;
  void scale_up(unsigned digits);                     // mantissa *= 10^digits, dscale unchanged
  std::uint64_t divmod_small(std::uint64_t divisor);  // mantissa /= divisor, returns remainder
  int decimal_digits() const;
  void weight_and_first(int& weight, int& first) const;  // PostgreSQL's base-10^4 weight, first digit
  std::string mantissa_digits() const;

  Special special_ = Special::Finite;
  bool negative_ = false;
  std::uint16_t dscale_ = 0;
  std::vector<std::uint32_t> limbs_;  // base 1e9, least significant first
};

}  // namespace pgstream::engine
