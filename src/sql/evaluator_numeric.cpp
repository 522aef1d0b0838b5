// numeric / and % for the native evaluator, exactly as PostgreSQL's
// numeric_div (select_div_scale, then the exact quotient rounded half away
// from zero) and numeric_mod (truncated quotient, a - q * b). The engine's
// Numeric only divides by integers, so this works on decimal digit strings:
// exact, allocating, and meant for the values rows hold, not for speed.
#include <algorithm>
#include <string>
#include <string_view>

#include "evaluator_nodes.hpp"

namespace pgstream::sql::eval {
namespace {

using engine::Numeric;

// A non-negative integer as decimal digits, most significant first, "0" for zero.
using Digits = std::string;

void strip(Digits& d) {
  const std::size_t nz = d.find_first_not_of('0');
  d.erase(0, nz == std::string::npos ? d.size() - 1 : nz);
  if (d.empty()) d = "0";
}

int cmp(const Digits& a, const Digits& b) {
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b) < 0 ? -1 : (a == b ? 0 : 1);
}

// a -= b. REQUIRES: a >= b.
void sub(Digits& a, const Digits& b) {
  int borrow = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::size_t ai = a.size() - 1 - i;
    int d = a[ai] - '0' - borrow - (i < b.size() ? b[b.size() - 1 - i] - '0' : 0);
    borrow = d < 0 ? 1 : 0;
    a[ai] = static_cast<char>('0' + d + borrow * 10);
  }
  strip(a);
}

// Long division: quotient and remainder of n / d. REQUIRES: d != 0.
void divide(const Digits& n, const Digits& d, Digits& quotient, Digits& remainder) {
  quotient.clear();
  remainder = "0";
  for (const char digit : n) {
    remainder.push_back(digit);
    strip(remainder);
    char q = '0';
    while (cmp(remainder, d) >= 0) {
      sub(remainder, d);
      ++q;
    }
    quotient.push_back(q);
  }
  strip(quotient);
}

Digits doubled(const Digits& a) {
  Digits out(a.size() + 1, '0');
  int carry = 0;
  for (std::size_t i = a.size(); i-- > 0;) {
    const int v = (a[i] - '0') * 2 + carry;
    out[i + 1] = static_cast<char>('0' + v % 10);
    carry = v / 10;
  }
  out[0] = static_cast<char>('0' + carry);
  strip(out);
  return out;
}

void increment(Digits& a) {
  std::size_t i = a.size();
  while (i > 0 && a[i - 1] == '9') a[--i] = '0';
  if (i == 0) {
    a.insert(0, "1");
  } else {
    ++a[i - 1];
  }
}

// A finite numeric as |mantissa| digits and its scale.
struct Decimal {
  Digits mantissa;
  std::string integer;   // digits before the point ("0" if none)
  std::string fraction;  // digits after the point (dscale of them)
  bool negative = false;
};

Decimal decimal(const Numeric& v) {
  const std::string text = v.to_string();
  Decimal out;
  std::string_view rest = text;
  out.negative = rest.starts_with('-');
  if (out.negative) rest.remove_prefix(1);
  const std::size_t point = rest.find('.');
  out.integer = std::string(rest.substr(0, point));
  if (point != std::string_view::npos) out.fraction = std::string(rest.substr(point + 1));
  out.mantissa = out.integer + out.fraction;
  strip(out.mantissa);
  return out;
}

// PostgreSQL's weight and first digit in base 10000 (NBASE).
void nbase_lead(const Decimal& v, int& weight, int& first) {
  weight = 0;
  first = 0;
  if (v.integer != "0") {
    const auto len = static_cast<int>(v.integer.size());
    weight = (len - 1) / 4;
    first = std::stoi(v.integer.substr(0, static_cast<std::size_t>((len - 1) % 4 + 1)));
    return;
  }
  const std::size_t nz = v.fraction.find_first_not_of('0');
  if (nz == std::string::npos) return;
  const std::size_t group = nz / 4;
  std::string digits = v.fraction.substr(group * 4, 4);
  digits.resize(4, '0');
  weight = -static_cast<int>(group) - 1;
  first = std::stoi(digits);
}

int select_div_scale(const Decimal& a, const Decimal& b) {
  int w1 = 0;
  int f1 = 0;
  int w2 = 0;
  int f2 = 0;
  nbase_lead(a, w1, f1);
  nbase_lead(b, w2, f2);
  int qweight = w1 - w2;
  if (f1 <= f2) --qweight;
  int rscale = 16 - qweight * 4;
  rscale = std::max({rscale, static_cast<int>(a.fraction.size()), static_cast<int>(b.fraction.size()), 0});
  return std::min(rscale, 1000);
}

// |a| * 10^(scale_b + extra) over |b| * 10^scale_a: the quotient of the values times 10^extra.
void scaled_quotient(const Decimal& a, const Decimal& b, int extra, Digits& q, Digits& r, Digits& d) {
  Digits n = a.mantissa;
  n.append(b.fraction.size() + static_cast<std::size_t>(extra), '0');
  strip(n);
  d = b.mantissa;
  d.append(a.fraction.size(), '0');
  strip(d);
  divide(n, d, q, r);
}

Numeric make(bool negative, const Digits& q, int scale) {
  std::string text = q;
  if (scale > 0) {
    if (text.size() <= static_cast<std::size_t>(scale))
      text.insert(0, static_cast<std::size_t>(scale) + 1 - text.size(), '0');
    text.insert(text.size() - static_cast<std::size_t>(scale), ".");
  }
  if (negative && q != "0") text.insert(0, "-");
  return Numeric::parse(text);
}

}  // namespace

Numeric numeric_div(const Numeric& a, const Numeric& b) {
  if (a.is_nan() || b.is_nan()) return Numeric::nan();
  if (!a.is_finite()) {
    if (!b.is_finite()) return Numeric::nan();
    if (b.is_zero()) throw_sql("22012", "division by zero");
    return Numeric::infinity(a.negative() != b.negative());
  }
  if (!b.is_finite()) return Numeric();
  if (b.is_zero()) throw_sql("22012", "division by zero");
  const Decimal x = decimal(a);
  const Decimal y = decimal(b);
  const int rscale = select_div_scale(x, y);
  Digits q;
  Digits r;
  Digits d;
  scaled_quotient(x, y, rscale, q, r, d);
  if (cmp(doubled(r), d) >= 0) increment(q);  // round half away from zero
  return make(x.negative != y.negative, q, rscale);
}

Numeric numeric_mod(const Numeric& a, const Numeric& b) {
  if (a.is_nan() || b.is_nan()) return Numeric::nan();
  if (!a.is_finite()) {
    if (b.is_zero()) throw_sql("22012", "division by zero");
    return Numeric::nan();
  }
  if (!b.is_finite()) return a;
  if (b.is_zero()) throw_sql("22012", "division by zero");
  const Decimal x = decimal(a);
  const Decimal y = decimal(b);
  Digits q;
  Digits r;
  Digits d;
  scaled_quotient(x, y, 0, q, r, d);
  return a.sub(make(x.negative != y.negative, q, 0).mul(b));
}

}  // namespace pgstream::sql::eval
