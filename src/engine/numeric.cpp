#include "pgstream/engine/numeric.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "pgstream/common/error.hpp"

namespace pgstream::engine {
namespace {

constexpr std::uint32_t kBase = 1000000000U;
constexpr int kLimbDigits = 9;
constexpr std::uint64_t kPow10[] = {1ULL,      10ULL,      100ULL,      1000ULL,      10000ULL,
                                    100000ULL, 1000000ULL, 10000000ULL, 100000000ULL, 1000000000ULL};
constexpr int kMaxDisplayScale = 1000;  // NUMERIC_MAX_DISPLAY_SCALE
constexpr int kMinSigDigits = 16;       // NUMERIC_MIN_SIG_DIGITS
constexpr int kDecDigits = 4;           // PostgreSQL's NBASE is 10^4

[[noreturn]] void bad_input(std::string_view text) {
  throw Error(ErrorKind::Database, "invalid input syntax for type numeric: \"" + std::string(text) + "\"",
              {.sqlstate = "22P02"});
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Magnitude helpers on base-1e9 little-endian limb vectors.
void mag_add(std::vector<std::uint32_t>& acc, const std::vector<std::uint32_t>& other) {
  if (acc.size() < other.size()) acc.resize(other.size(), 0);
  std::uint64_t carry = 0;
  for (std::size_t i = 0; i < acc.size(); ++i) {
    std::uint64_t sum = carry + acc[i] + (i < other.size() ? other[i] : 0);
    acc[i] = static_cast<std::uint32_t>(sum % kBase);
    carry = sum / kBase;
  }
  if (carry != 0) acc.push_back(static_cast<std::uint32_t>(carry));
}

// REQUIRES: acc >= other.
void mag_sub(std::vector<std::uint32_t>& acc, const std::vector<std::uint32_t>& other) {
  std::int64_t borrow = 0;
  for (std::size_t i = 0; i < acc.size(); ++i) {
    std::int64_t diff = static_cast<std::int64_t>(acc[i]) - borrow - (i < other.size() ? other[i] : 0);
    borrow = diff < 0 ? 1 : 0;
    if (diff < 0) diff += kBase;
    acc[i] = static_cast<std::uint32_t>(diff);
  }
}

int mag_compare(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (std::size_t i = a.size(); i-- > 0;) {
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  }
  return 0;
}

void mag_trim(std::vector<std::uint32_t>& m) {
  while (!m.empty() && m.back() == 0) m.pop_back();
}

// m = m * factor + add (factor, add < 10^9); stays trimmed.
void mag_mul_add_small(std::vector<std::uint32_t>& m, std::uint32_t factor, std::uint32_t add) {
  std::uint64_t carry = add;
  for (auto& limb : m) {
    std::uint64_t v = static_cast<std::uint64_t>(limb) * factor + carry;
    limb = static_cast<std::uint32_t>(v % kBase);
    carry = v / kBase;
  }
  while (carry != 0) {
    m.push_back(static_cast<std::uint32_t>(carry % kBase));
    carry /= kBase;
  }
  mag_trim(m);
}

std::string mag_digits(const std::vector<std::uint32_t>& m) {
  if (m.empty()) return "0";
  std::string out = std::to_string(m.back());
  char buf[16];
  for (std::size_t i = m.size() - 1; i-- > 0;) {
    std::snprintf(buf, sizeof buf, "%09u", m[i]);
    out += buf;
  }
  return out;
}

// floor(a / b) by decimal long division. REQUIRES: b trimmed and nonzero.
// Quadratic, which is fine for the few dozen digits aggregates divide.
std::vector<std::uint32_t> mag_div_floor(const std::vector<std::uint32_t>& a,
                                         const std::vector<std::uint32_t>& b) {
  std::vector<std::uint32_t> q;
  std::vector<std::uint32_t> r;
  for (char c : mag_digits(a)) {
    mag_mul_add_small(r, 10, static_cast<std::uint32_t>(c - '0'));
    std::uint32_t digit = 0;
    while (mag_compare(r, b) >= 0) {
      mag_sub(r, b);
      mag_trim(r);
      ++digit;
    }
    mag_mul_add_small(q, 10, digit);
  }
  return q;
}

// floor(sqrt(a)), digit pair by digit pair.
std::vector<std::uint32_t> mag_isqrt(const std::vector<std::uint32_t>& a) {
  std::string digits = mag_digits(a);
  if (digits.size() % 2 != 0) digits.insert(0, 1, '0');
  std::vector<std::uint32_t> root;
  std::vector<std::uint32_t> rem;
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    mag_mul_add_small(rem, 100, static_cast<std::uint32_t>((digits[i] - '0') * 10 + (digits[i + 1] - '0')));
    // The largest x with (20 * root + x) * x <= rem.
    std::vector<std::uint32_t> twenty_root = root;
    mag_mul_add_small(twenty_root, 20, 0);
    std::uint32_t x = 9;
    std::vector<std::uint32_t> t;
    for (;; --x) {
      t = twenty_root;
      mag_mul_add_small(t, 1, x);
      mag_mul_add_small(t, x, 0);
      if (mag_compare(t, rem) <= 0) break;
    }
    mag_sub(rem, t);
    mag_trim(rem);
    mag_mul_add_small(root, 10, x);
  }
  return root;
}

}  // namespace

Numeric Numeric::from_int(std::int64_t value) {
  Numeric n;
  n.negative_ = value < 0;
  auto mag = value < 0 ? static_cast<std::uint64_t>(-(value + 1)) + 1 : static_cast<std::uint64_t>(value);
  while (mag != 0) {
    n.limbs_.push_back(static_cast<std::uint32_t>(mag % kBase));
    mag /= kBase;
  }
  n.trim();
  return n;
}

Numeric Numeric::from_int128(Int128 value) {
  Numeric n;
  n.negative_ = value < 0;
  auto mag = value < 0 ? -static_cast<UInt128>(value) : static_cast<UInt128>(value);
  while (mag != 0) {
    n.limbs_.push_back(static_cast<std::uint32_t>(mag % kBase));
    mag /= kBase;
  }
  n.trim();
  return n;
}

Numeric Numeric::nan() {
  Numeric n;
  n.special_ = Special::NaN;
  return n;
}

Numeric Numeric::infinity(bool negative) {
  Numeric n;
  n.special_ = negative ? Special::NegInf : Special::PosInf;
  return n;
}

Numeric Numeric::parse(std::string_view text) {
  std::string_view s = text;
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  if (iequals(s, "nan")) return nan();
  bool negative = false;
  if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (iequals(s, "infinity") || iequals(s, "inf")) return infinity(negative);
  std::string digits;
  int frac = 0;
  bool seen_point = false;
  bool seen_digit = false;
  std::size_t i = 0;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
      seen_digit = true;
      if (seen_point) ++frac;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) bad_input(text);
  long exponent = 0;
  if (i < s.size()) {
    if (s[i] != 'e' && s[i] != 'E') bad_input(text);
    std::string exp_text(s.substr(i + 1));
    char* end = nullptr;
    exponent = std::strtol(exp_text.c_str(), &end, 10);
    if (exp_text.empty() || *end != '\0' || exponent > kMaxDisplayScale || exponent < -kMaxDisplayScale)
      bad_input(text);
  }
  long scale = frac - exponent;
  if (scale < 0) {
    digits.append(static_cast<std::size_t>(-scale), '0');
    scale = 0;
  }
  Numeric n;
  n.negative_ = negative;
  n.dscale_ = static_cast<std::uint16_t>(scale);
  for (std::size_t end = digits.size(); end > 0;) {
    std::size_t begin = end >= kLimbDigits ? end - kLimbDigits : 0;
    std::uint32_t limb = 0;
    for (std::size_t k = begin; k < end; ++k) limb = limb * 10 + static_cast<std::uint32_t>(digits[k] - '0');
    n.limbs_.push_back(limb);
    end = begin;
  }
  n.trim();
  return n;
}

Numeric Numeric::unpack(std::span<const std::byte> bytes) {
  Numeric n;
  n.special_ = static_cast<Special>(bytes[0]);
  n.negative_ = bytes[1] != std::byte{0};
  std::memcpy(&n.dscale_, bytes.data() + 2, 2);
  std::size_t count = (bytes.size() - 4) / 4;
  n.limbs_.resize(count);
  if (count != 0) std::memcpy(n.limbs_.data(), bytes.data() + 4, count * 4);
  return n;
}

Numeric Numeric::from_scaled_int128(Int128 mantissa, std::uint16_t dscale) {
  Numeric n = from_int128(mantissa);
  n.dscale_ = dscale;
  return n;
}

std::uint16_t Numeric::packed_dscale(std::span<const std::byte> packed) noexcept {
  std::uint16_t dscale = 0;
  std::memcpy(&dscale, packed.data() + 2, 2);
  return dscale;
}

bool Numeric::packed_scaled_int128(std::span<const std::byte> packed, std::uint16_t scale,
                                   Int128& out) noexcept {
  std::size_t count = (packed.size() - 4) / 4;
  Int128 m = 0;
  for (std::size_t i = count; i-- > 0;) {
    std::uint32_t limb = 0;
    std::memcpy(&limb, packed.data() + 4 + i * 4, 4);
    if (__builtin_mul_overflow(m, static_cast<Int128>(kBase), &m) ||
        __builtin_add_overflow(m, static_cast<Int128>(limb), &m))
      return false;
  }
  if (m != 0) {
    for (unsigned digits = scale - packed_dscale(packed); digits > 0;) {
      unsigned step = std::min(digits, 9U);
      if (__builtin_mul_overflow(m, static_cast<Int128>(kPow10[step]), &m)) return false;
      digits -= step;
    }
  }
  out = packed[1] != std::byte{0} ? -m : m;
  return true;
}

void Numeric::pack(std::vector<std::byte>& out) const {
  std::size_t at = out.size();
  out.resize(at + packed_size());
  out[at] = static_cast<std::byte>(special_);
  out[at + 1] = static_cast<std::byte>(negative_ ? 1 : 0);
  std::memcpy(out.data() + at + 2, &dscale_, 2);
  if (!limbs_.empty()) std::memcpy(out.data() + at + 4, limbs_.data(), limbs_.size() * 4);
}

void Numeric::trim() {
  while (!limbs_.empty() && limbs_.back() == 0) limbs_.pop_back();
  if (limbs_.empty()) negative_ = false;  // PostgreSQL has no negative zero
}

std::string Numeric::mantissa_digits() const {
  if (limbs_.empty()) return "0";
  std::string out = std::to_string(limbs_.back());
  char buf[16];
  for (std::size_t i = limbs_.size() - 1; i-- > 0;) {
    std::snprintf(buf, sizeof buf, "%09u", limbs_[i]);
    out += buf;
  }
  return out;
}

int Numeric::decimal_digits() const {
  if (limbs_.empty()) return 0;
  int top = 0;
  for (std::uint32_t v = limbs_.back(); v != 0; v /= 10) ++top;
  return static_cast<int>(limbs_.size() - 1) * kLimbDigits + top;
}

std::string Numeric::to_string() const {
  switch (special_) {
    case Special::NaN: return "NaN";
    case Special::PosInf: return "Infinity";
    case Special::NegInf: return "-Infinity";
    case Special::Finite: break;
  }
  std::string digits = mantissa_digits();
  if (digits.size() <= dscale_) digits.insert(0, dscale_ + 1 - digits.size(), '0');
  if (dscale_ > 0) digits.insert(digits.size() - dscale_, 1, '.');
  if (negative_) digits.insert(0, 1, '-');
  return digits;
}

void Numeric::scale_up(unsigned digits) {
  while (digits > 0) {
    unsigned step = std::min(digits, 9U);
    std::uint64_t factor = kPow10[step];
    std::uint64_t carry = 0;
    for (auto& limb : limbs_) {
      std::uint64_t v = limb * factor + carry;
      limb = static_cast<std::uint32_t>(v % kBase);
      carry = v / kBase;
    }
    while (carry != 0) {
      limbs_.push_back(static_cast<std::uint32_t>(carry % kBase));
      carry /= kBase;
    }
    digits -= step;
  }
}

std::uint64_t Numeric::divmod_small(std::uint64_t divisor) {
  UInt128 rem = 0;
  for (std::size_t i = limbs_.size(); i-- > 0;) {
    UInt128 cur = rem * kBase + limbs_[i];
    limbs_[i] = static_cast<std::uint32_t>(cur / divisor);
    rem = cur % divisor;
  }
  while (!limbs_.empty() && limbs_.back() == 0) limbs_.pop_back();
  return static_cast<std::uint64_t>(rem);
}

Numeric Numeric::normalized() const {
  if (!is_finite()) return *this;
  Numeric n = *this;
  if (n.limbs_.empty()) {
    n.dscale_ = 0;
    return n;
  }
  while (n.dscale_ > 0 && n.limbs_[0] % 10 == 0) {
    n.divmod_small(10);
    --n.dscale_;
  }
  return n;
}

Numeric Numeric::rescaled(std::uint16_t scale) const {
  if (!is_finite()) return *this;
  Numeric n = *this;
  if (scale >= dscale_) {
    n.scale_up(scale - dscale_);
  } else {
    unsigned drop = dscale_ - scale;
    // Drop all but the last digit exactly, then round on the last one.
    while (drop > 1) {
      unsigned step = std::min(drop - 1, 9U);
      n.divmod_small(kPow10[step]);
      drop -= step;
    }
    if (n.divmod_small(10) >= 5) n.mag_increment();
  }
  n.dscale_ = scale;
  n.trim();
  return n;
}

}  // namespace pgstream::engine

namespace pgstream::engine {

void Numeric::mag_increment() {
  for (auto& limb : limbs_) {
    if (++limb < kBase) return;
    limb = 0;
  }
  limbs_.push_back(1);
}

int Numeric::compare_magnitude(const Numeric& other) const { return mag_compare(limbs_, other.limbs_); }

Numeric Numeric::add_signed(const Numeric& other, bool negate_other) const {
  bool other_negative = other.negative_ != negate_other;
  if (is_nan() || other.is_nan()) return nan();
  if (!is_finite() || !other.is_finite()) {
    auto sign_of = [](const Numeric& n, bool neg) {
      if (n.is_finite()) return 0;
      bool minus = (n.special_ == Special::NegInf) != neg;
      return minus ? -1 : 1;
    };
    int a = sign_of(*this, false);
    int b = sign_of(other, negate_other);
    if (a != 0 && b != 0 && a != b) return nan();
    return infinity((a != 0 ? a : b) < 0);
  }
  std::uint16_t scale = std::max(dscale_, other.dscale_);
  Numeric x = rescaled(scale);
  Numeric y = other.rescaled(scale);
  y.negative_ = other_negative && !y.limbs_.empty();
  if (x.negative_ == y.negative_) {
    mag_add(x.limbs_, y.limbs_);
  } else if (mag_compare(x.limbs_, y.limbs_) >= 0) {
    mag_sub(x.limbs_, y.limbs_);
  } else {
    mag_sub(y.limbs_, x.limbs_);
    x.limbs_ = std::move(y.limbs_);
    x.negative_ = y.negative_;
  }
  x.dscale_ = scale;
  x.trim();
  return x;
}

Numeric Numeric::add(const Numeric& other) const { return add_signed(other, false); }
Numeric Numeric::sub(const Numeric& other) const { return add_signed(other, true); }

Numeric Numeric::mul(const Numeric& other) const {
  if (is_nan() || other.is_nan()) return nan();
  if (!is_finite() || !other.is_finite()) {
    if (is_zero() || other.is_zero()) return nan();
    bool neg_a = is_finite() ? negative_ : special_ == Special::NegInf;
    bool neg_b = other.is_finite() ? other.negative_ : other.special_ == Special::NegInf;
    return infinity(neg_a != neg_b);
  }
  Numeric r;
  r.dscale_ = static_cast<std::uint16_t>(std::min<int>(dscale_ + other.dscale_, 0xFFFF));
  r.negative_ = negative_ != other.negative_;
  std::vector<std::uint64_t> acc(limbs_.size() + other.limbs_.size() + 1, 0);
  for (std::size_t i = 0; i < limbs_.size(); ++i) {
    std::uint64_t carry = 0;
    for (std::size_t j = 0; j < other.limbs_.size(); ++j) {
      std::uint64_t cur = acc[i + j] + static_cast<std::uint64_t>(limbs_[i]) * other.limbs_[j] + carry;
      acc[i + j] = cur % kBase;
      carry = cur / kBase;
    }
    for (std::size_t k = i + other.limbs_.size(); carry != 0; ++k) {
      std::uint64_t cur = acc[k] + carry;
      acc[k] = cur % kBase;
      carry = cur / kBase;
    }
  }
  r.limbs_.assign(acc.begin(), acc.end());
  r.trim();
  return r;
}

Numeric Numeric::div_int(std::int64_t divisor) const {
  if (is_nan()) return nan();
  if (divisor == 0) throw Error(ErrorKind::Database, "division by zero", {.sqlstate = "22012"});
  if (!is_finite()) return infinity((special_ == Special::NegInf) != (divisor < 0));
  int rscale = div_scale(from_int(divisor));
  // Quotient with one extra digit, then round half away from zero.
  Numeric q = *this;
  q.scale_up(static_cast<unsigned>(rscale - dscale_ + 1));
  auto mag =
      divisor < 0 ? static_cast<std::uint64_t>(-(divisor + 1)) + 1 : static_cast<std::uint64_t>(divisor);
  q.divmod_small(mag);
  std::uint64_t last = q.divmod_small(10);
  if (last >= 5) q.mag_increment();
  q.dscale_ = static_cast<std::uint16_t>(rscale);
  q.negative_ = negative_ != (divisor < 0);
  q.trim();
  return q;
}

// select_div_scale(): PostgreSQL's weight and first digit are in base 10^4;
// derive them from the decimal exponent.
void Numeric::weight_and_first(int& weight, int& first) const {
  int digits = decimal_digits();
  weight = 0;
  first = 0;
  if (digits == 0) return;
  int exponent = digits - 1 - dscale_;  // value in [10^e, 10^(e+1))
  weight = floor_div(exponent, kDecDigits);
  int lead = exponent - weight * kDecDigits + 1;  // decimal digits in the first base-10^4 digit
  std::string m = mantissa_digits();
  for (int k = 0; k < lead && k < static_cast<int>(m.size()); ++k)
    first = first * 10 + (m[static_cast<std::size_t>(k)] - '0');
  for (int k = static_cast<int>(m.size()); k < lead; ++k) first *= 10;
}

int Numeric::div_scale(const Numeric& divisor) const {
  int w1 = 0;
  int f1 = 0;
  int w2 = 0;
  int f2 = 0;
  weight_and_first(w1, f1);
  divisor.weight_and_first(w2, f2);
  int qweight = w1 - w2;
  if (f1 <= f2) --qweight;
  int rscale = kMinSigDigits - qweight * kDecDigits;
  rscale = std::max<int>(rscale, dscale_);
  rscale = std::max<int>(rscale, divisor.dscale_);
  rscale = std::max(rscale, 0);
  return std::min(rscale, kMaxDisplayScale);
}

Numeric Numeric::div(const Numeric& divisor) const {
  if (is_nan() || divisor.is_nan()) return nan();
  if (!is_finite()) {
    if (!divisor.is_finite()) return nan();  // Inf / Inf
    if (divisor.is_zero()) throw Error(ErrorKind::Database, "division by zero", {.sqlstate = "22012"});
    return infinity((special_ == Special::NegInf) != divisor.negative_);
  }
  if (!divisor.is_finite()) return Numeric();  // finite / Inf = 0
  if (divisor.is_zero()) throw Error(ErrorKind::Database, "division by zero", {.sqlstate = "22012"});
  int rscale = div_scale(divisor);
  // Quotient of the mantissas with one extra digit, then round half away
  // from zero on it: value = (M1 / M2) * 10^(d2 - d1).
  int shift = rscale + 1 + divisor.dscale_ - dscale_;
  Numeric num = *this;
  Numeric den = divisor;
  if (shift >= 0) {
    num.scale_up(static_cast<unsigned>(shift));
  } else {
    den.scale_up(static_cast<unsigned>(-shift));
  }
  Numeric q;
  q.limbs_ = mag_div_floor(num.limbs_, den.limbs_);
  if (q.divmod_small(10) >= 5) q.mag_increment();
  q.dscale_ = static_cast<std::uint16_t>(rscale);
  q.negative_ = negative_ != divisor.negative_;
  q.trim();
  return q;
}

Numeric Numeric::sqrt() const {
  if (is_nan() || special_ == Special::PosInf) return *this;
  if (special_ == Special::NegInf || negative_)
    throw Error(ErrorKind::Database, "cannot take square root of a negative number", {.sqlstate = "2201F"});
  // numeric_sqrt: at least NUMERIC_MIN_SIG_DIGITS significant digits.
  int weight = 0;
  int first = 0;
  weight_and_first(weight, first);
  int sweight = (weight + 1) * kDecDigits / 2 - 1;
  int rscale = kMinSigDigits - sweight;
  rscale = std::max<int>(rscale, dscale_);
  rscale = std::max(rscale, 0);
  rscale = std::min(rscale, kMaxDisplayScale);
  return sqrt_scaled(static_cast<std::uint16_t>(rscale));
}

Numeric Numeric::sqrt_scaled(std::uint16_t scale) const {
  // floor(sqrt(M * 10^(2 * (scale + 1) - dscale))) has one digit past
  // `scale`; floor(sqrt(floor(x))) = floor(sqrt(x)), so truncating M first
  // is exact. Then round half up on the extra digit.
  int shift = 2 * (scale + 1) - dscale_;
  Numeric n = *this;
  if (shift >= 0) {
    n.scale_up(static_cast<unsigned>(shift));
  } else {
    for (int drop = -shift; drop > 0;) {
      int step = std::min(drop, 9);
      n.divmod_small(kPow10[step]);
      drop -= step;
    }
  }
  Numeric r;
  r.limbs_ = mag_isqrt(n.limbs_);
  if (r.divmod_small(10) >= 5) r.mag_increment();
  r.dscale_ = scale;
  r.trim();
  return r;
}

double Numeric::to_double() const {
  switch (special_) {
    case Special::NaN: return std::strtod("nan", nullptr);
    case Special::PosInf: return std::strtod("inf", nullptr);
    case Special::NegInf: return std::strtod("-inf", nullptr);
    case Special::Finite: break;
  }
  return std::strtod(to_string().c_str(), nullptr);
}

int Numeric::compare(const Numeric& other) const {
  auto rank = [](const Numeric& n) {
    switch (n.special_) {
      case Special::NegInf: return 0;
      case Special::Finite: return 1;
      case Special::PosInf: return 2;
      case Special::NaN: return 3;
    }
    return 1;
  };
  int ra = rank(*this);
  int rb = rank(other);
  if (ra != rb || ra != 1) return ra < rb ? -1 : (ra > rb ? 1 : 0);
  if (negative_ != other.negative_) return negative_ ? -1 : 1;
  std::uint16_t scale = std::max(dscale_, other.dscale_);
  Numeric x = rescaled(scale);
  Numeric y = other.rescaled(scale);
  int c = mag_compare(x.limbs_, y.limbs_);
  return negative_ ? -c : c;
}

}  // namespace pgstream::engine
