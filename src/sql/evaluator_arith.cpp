// The native evaluator's arithmetic (+ - * / % and unary -) on int2/4/8,
// float4/8 and numeric, and casts among those types (and to text), with
// PostgreSQL's overflow, underflow and division-by-zero errors.
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "evaluator_nodes.hpp"

namespace pgstream::sql::eval {
namespace {

using engine::DatumKind;
using engine::DatumRef;
using engine::Numeric;
using engine::RowRef;

enum class ArithOp : std::uint8_t { Add, Sub, Mul, Div, Mod, Neg, Abs };

ArithOp parse_arith(const Expr& expr) {
  if (expr.args.size() == 1 && expr.name == "-") return ArithOp::Neg;
  if (expr.args.size() == 1 && (expr.name == "@" || expr.name == "abs" || expr.name == "pg_catalog.abs")) {
    return ArithOp::Abs;
  }
  if (expr.args.size() != 2) throw NotNative{describe(expr)};
  switch (expr.name[0]) {
    case '+': return ArithOp::Add;
    case '-': return ArithOp::Sub;
    case '*': return ArithOp::Mul;
    case '/': return ArithOp::Div;
    default: return ArithOp::Mod;
  }
}

const char* int_range_message(DatumKind kind) {
  switch (kind) {
    case DatumKind::Int2: return "smallint out of range";
    case DatumKind::Int4: return "integer out of range";
    default: return "bigint out of range";
  }
}

void push_int(DatumKind kind, std::int64_t v, engine::RowPacker& out) {
  if (kind == DatumKind::Int2) {
    if (v < INT16_MIN || v > INT16_MAX) throw_sql("22003", int_range_message(kind));
    out.push_int2(static_cast<std::int16_t>(v));
  } else if (kind == DatumKind::Int4) {
    if (v < INT32_MIN || v > INT32_MAX) throw_sql("22003", int_range_message(kind));
    out.push_int4(static_cast<std::int32_t>(v));
  } else {
    out.push_int8(v);
  }
}

// Integer arithmetic in 64 bits, range-checked against the result type.
std::int64_t int_arith(ArithOp op, std::int64_t a, std::int64_t b, DatumKind kind) {
  std::int64_t r = 0;
  bool overflow = false;
  switch (op) {
    case ArithOp::Add: overflow = __builtin_add_overflow(a, b, &r); break;
    case ArithOp::Sub: overflow = __builtin_sub_overflow(a, b, &r); break;
    case ArithOp::Mul: overflow = __builtin_mul_overflow(a, b, &r); break;
    case ArithOp::Neg: overflow = __builtin_sub_overflow(std::int64_t{0}, a, &r); break;
    case ArithOp::Abs:
      r = a;
      if (a < 0) overflow = __builtin_sub_overflow(std::int64_t{0}, a, &r);
      break;
    case ArithOp::Div:
      if (b == 0) throw_sql("22012", "division by zero");
      overflow = b == -1 && a == INT64_MIN;
      r = overflow ? 0 : a / b;
      break;
    case ArithOp::Mod:
      if (b == 0) throw_sql("22012", "division by zero");
      r = b == -1 ? 0 : a % b;
      break;
  }
  if (overflow) throw_sql("22003", int_range_message(kind));
  return r;
}

// PostgreSQL's float checks (float.h): overflow to infinity from finite
// inputs and underflow to zero from non-zero inputs are errors.
template <class F>
F float_arith(ArithOp op, F a, F b) {
  const bool inf_in = std::isinf(a) || std::isinf(b);
  F r = 0;
  switch (op) {
    case ArithOp::Add: r = a + b; break;
    case ArithOp::Sub: r = a - b; break;
    case ArithOp::Neg: return -a;
    case ArithOp::Abs: return std::fabs(a);
    case ArithOp::Mul:
      r = a * b;
      if (r == 0 && a != 0 && b != 0) throw_sql("22003", "value out of range: underflow");
      break;
    default:
      if (b == 0 && !std::isnan(a)) throw_sql("22012", "division by zero");
      r = a / b;
      if (std::isinf(r) && !std::isinf(a)) throw_sql("22003", "value out of range: overflow");
      if (r == 0 && a != 0 && !std::isinf(b)) throw_sql("22003", "value out of range: underflow");
      return r;
  }
  if (std::isinf(r) && !inf_in) throw_sql("22003", "value out of range: overflow");
  return r;
}

class ArithNode final : public Node {
 public:
  ArithNode(DatumKind kind, ArithOp op, std::vector<NodePtr> args)
      : Node(kind), op_(op), args_(std::move(args)) {}
  DatumRef eval(RowRef input) const override {
    const DatumRef a = args_[0]->eval(input);
    if (a.is_null()) return null();
    const DatumRef b = args_.size() > 1 ? args_[1]->eval(input) : a;
    if (b.is_null()) return null();
    engine::RowPacker& out = start();
    switch (kind()) {
      case DatumKind::Float4: out.push_float4(float_arith(op_, a.as_float4(), b.as_float4())); break;
      case DatumKind::Float8: out.push_float8(float_arith(op_, a.as_double(), b.as_double())); break;
      case DatumKind::Numeric: out.push_numeric(numeric_arith(a.as_numeric(), b.as_numeric())); break;
      default: push_int(kind(), int_arith(op_, a.as_int(), b.as_int(), kind()), out); break;
    }
    return finish();
  }

 private:
  [[nodiscard]] Numeric numeric_arith(const Numeric& a, const Numeric& b) const {
    switch (op_) {
      case ArithOp::Add: return a.add(b);
      case ArithOp::Sub: return a.sub(b);
      case ArithOp::Mul: return a.mul(b);
      case ArithOp::Div: return numeric_div(a, b);
      case ArithOp::Mod: return numeric_mod(a, b);
      case ArithOp::Abs: return a.negative() ? Numeric().sub(a) : a;
      default: return Numeric().sub(a);
    }
  }
  ArithOp op_;
  std::vector<NodePtr> args_;
};

bool all_of_kind(const std::vector<NodePtr>& args, bool (*pred)(DatumKind)) {
  for (const NodePtr& arg : args) {
    if (!pred(arg->kind())) return false;
  }
  return true;
}

bool is_int(DatumKind k) { return k == DatumKind::Int2 || k == DatumKind::Int4 || k == DatumKind::Int8; }
bool is_flt(DatumKind k) { return k == DatumKind::Float4 || k == DatumKind::Float8; }
bool is_num(DatumKind k) { return k == DatumKind::Numeric; }

// ---- casts --------------------------------------------------------------

// numeric(precision, scale) typmod: rounds to the scale and checks the precision.
struct NumericTypmod {
  int precision = -1;  // -1: unconstrained
  int scale = 0;
};

NumericTypmod numeric_typmod(std::int32_t typmod) {
  if (typmod < 4) return {};
  const int precision = ((typmod - 4) >> 16) & 0xffff;
  const int scale = (((typmod - 4) & 0x7ff) ^ 1024) - 1024;
  if (scale < 0) throw NotNative{"numeric with a negative scale"};
  return {precision, scale};
}

Numeric apply_typmod(const Numeric& v, NumericTypmod t) {
  if (t.precision < 0 || v.is_nan()) return v;
  if (!v.is_finite()) {
    throw_sql("22003", "numeric field overflow");
  }
  Numeric r = v.rescaled(static_cast<std::uint16_t>(t.scale));
  const std::string text = r.to_string();
  const std::size_t begin = text[0] == '-' ? 1 : 0;
  std::size_t end = text.find('.');
  if (end == std::string::npos) end = text.size();
  const int digits = text.compare(begin, end - begin, "0") == 0 ? 0 : static_cast<int>(end - begin);
  if (digits > t.precision - t.scale) throw_sql("22003", "numeric field overflow");
  return r;
}

template <class F>
void push_float_as_int(F v, DatumKind to, engine::RowPacker& out) {
  const F r = std::rint(v);
  F lo = -32768.0F;
  F hi = 32768.0F;
  if (to == DatumKind::Int4) {
    lo = static_cast<F>(-2147483648.0);
    hi = static_cast<F>(2147483648.0);
  } else if (to == DatumKind::Int8) {
    lo = static_cast<F>(-9223372036854775808.0);
    hi = static_cast<F>(9223372036854775808.0);
  }
  if (std::isnan(r) || r < lo || r >= hi) throw_sql("22003", int_range_message(to));
  push_int(to, static_cast<std::int64_t>(r), out);
}

const char* int_type_name(DatumKind kind) {
  switch (kind) {
    case DatumKind::Int2: return "smallint";
    case DatumKind::Int4: return "integer";
    default: return "bigint";
  }
}

void push_numeric_as_int(const Numeric& v, DatumKind to, engine::RowPacker& out) {
  if (v.is_nan()) throw_sql("0A000", std::string("cannot convert NaN to ") + int_type_name(to));
  if (!v.is_finite()) throw_sql("0A000", std::string("cannot convert infinity to ") + int_type_name(to));
  const std::string text = v.rescaled(0).to_string();
  std::int64_t r = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), r);
  if (ec != std::errc() || end != text.data() + text.size()) throw_sql("22003", int_range_message(to));
  push_int(to, r, out);
}

Numeric float_to_numeric(double v, int digits) {
  if (std::isnan(v)) return Numeric::nan();
  if (std::isinf(v)) return Numeric::infinity(v < 0);
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%.*g", digits, v);
  return Numeric::parse(text.data());
}

void push_numeric_as_float(const Numeric& v, DatumKind to, engine::RowPacker& out) {
  if (v.is_nan()) {
    if (to == DatumKind::Float4) out.push_float4(std::numeric_limits<float>::quiet_NaN());
    if (to == DatumKind::Float8) out.push_float8(std::numeric_limits<double>::quiet_NaN());
    return;
  }
  if (!v.is_finite()) {
    const double inf = v.negative() ? -HUGE_VAL : HUGE_VAL;
    if (to == DatumKind::Float4) out.push_float4(static_cast<float>(inf));
    if (to == DatumKind::Float8) out.push_float8(inf);
    return;
  }
  const std::string text = v.to_string();
  errno = 0;
  if (to == DatumKind::Float4) {
    const float f = std::strtof(text.c_str(), nullptr);
    if (errno == ERANGE && (f == 0 || std::isinf(f)))
      throw_sql("22003", "\"" + text + "\" is out of range for type real");
    out.push_float4(f);
  } else {
    const double d = std::strtod(text.c_str(), nullptr);
    if (errno == ERANGE && (d == 0 || std::isinf(d)))
      throw_sql("22003", "\"" + text + "\" is out of range for type double precision");
    out.push_float8(d);
  }
}

bool castable_to_text(DatumKind k) {
  return is_int(k) || is_flt(k) || is_num(k) || k == DatumKind::Text || k == DatumKind::Bpchar ||
         k == DatumKind::Uuid;
}

class CastNode final : public Node {
 public:
  CastNode(DatumKind to, NumericTypmod typmod, NodePtr arg)
      : Node(to), typmod_(typmod), arg_(std::move(arg)) {}
  DatumRef eval(RowRef input) const override {
    const DatumRef in = arg_->eval(input);
    if (in.is_null()) return null();
    engine::RowPacker& out = start();
    convert(in, out);
    return finish();
  }

 private:
  void convert(DatumRef in, engine::RowPacker& out) const {
    const DatumKind to = kind();
    const DatumKind from = in.kind();
    if (to == DatumKind::Text) {
      text_.clear();
      if (from == DatumKind::Text || from == DatumKind::Bpchar) {
        out.push_text(in.as_text());
      } else {
        engine::format_datum(in, text_);
        out.push_text(text_);
      }
    } else if (to == DatumKind::Bpchar) {
      out.push_bpchar(in.as_text());
    } else if (to == DatumKind::Bool) {
      out.push_bool(from == DatumKind::Bool ? in.as_bool() : in.as_int4() != 0);  // int4::bool
    } else if (from == DatumKind::Bool) {
      out.push_int4(in.as_bool() ? 1 : 0);  // bool::int4
    } else if (is_int(to)) {
      if (is_int(from)) push_int(to, in.as_int(), out);
      if (from == DatumKind::Float4) push_float_as_int(in.as_float4(), to, out);
      if (from == DatumKind::Float8) push_float_as_int(in.as_float8(), to, out);
      if (is_num(from)) push_numeric_as_int(in.as_numeric(), to, out);
    } else if (is_flt(to)) {
      convert_to_float(in, to, out);
    } else {
      out.push_numeric(apply_typmod(to_numeric(in), typmod_));
    }
  }

  static void convert_to_float(DatumRef in, DatumKind to, engine::RowPacker& out) {
    const DatumKind from = in.kind();
    if (is_num(from)) return push_numeric_as_float(in.as_numeric(), to, out);
    if (to == DatumKind::Float8) {
      out.push_float8(is_int(from) ? static_cast<double>(in.as_int()) : in.as_double());
      return;
    }
    if (is_int(from)) {
      out.push_float4(static_cast<float>(in.as_int()));
      return;
    }
    const double d = in.as_double();
    const auto f = static_cast<float>(d);
    if (std::isinf(f) && !std::isinf(d)) throw_sql("22003", "value out of range: overflow");
    if (f == 0 && d != 0) throw_sql("22003", "value out of range: underflow");
    out.push_float4(f);
  }

  static Numeric to_numeric(DatumRef in) {
    switch (in.kind()) {
      case DatumKind::Float4: return float_to_numeric(in.as_float4(), std::numeric_limits<float>::digits10);
      case DatumKind::Float8: return float_to_numeric(in.as_float8(), std::numeric_limits<double>::digits10);
      case DatumKind::Numeric: return in.as_numeric();
      default: return Numeric::from_int(in.as_int());
    }
  }

  NumericTypmod typmod_;
  NodePtr arg_;
  mutable std::string text_;
};

}  // namespace

NodePtr make_arith(const Expr& expr, std::vector<NodePtr> args) {
  const ArithOp op = parse_arith(expr);
  const DatumKind kind = kind_of(expr.type);
  const bool ok = (is_int(kind) && all_of_kind(args, is_int)) ||
                  (is_flt(kind) && all_of_kind(args, is_flt)) || (is_num(kind) && all_of_kind(args, is_num));
  if (!ok || (is_flt(kind) && op == ArithOp::Mod)) throw NotNative{describe(expr) + " on these types"};
  if (kind == DatumKind::Float4 && !all_of_kind(args, [](DatumKind k) { return k == DatumKind::Float4; })) {
    throw NotNative{describe(expr) + " on these types"};
  }
  return std::make_unique<ArithNode>(kind, op, std::move(args));
}

NodePtr coerce(NodePtr node, DatumKind to) {
  const DatumKind from = node->kind();
  if (from == to || from == DatumKind::Null) return node;
  const bool widen = (from == DatumKind::Int2 && (to == DatumKind::Int4 || to == DatumKind::Int8)) ||
                     (from == DatumKind::Int4 && to == DatumKind::Int8) ||
                     ((is_int(from) || is_num(from)) && is_flt(to)) || (is_int(from) && is_num(to)) ||
                     (from == DatumKind::Float4 && to == DatumKind::Float8) ||
                     (from == DatumKind::Bpchar && to == DatumKind::Text);
  if (!widen) throw NotNative{"a branch of another type"};
  return std::make_unique<CastNode>(to, NumericTypmod{}, std::move(node));
}

NodePtr make_cast(const Expr& expr, NodePtr arg) {
  const DatumKind to = kind_of(expr.type);
  const DatumKind from = arg->kind();
  if (expr.type.oid == engine::type_oid::kName)  // text::name truncates to NAMEDATALEN - 1 bytes
    throw NotNative{describe(expr) + " (truncation to 63 bytes)"};
  if (from == to && expr.type.typmod < 0 && to != DatumKind::PassThrough && to != DatumKind::Array) {
    return arg;  // same representation: varchar::text, date::date, ...
  }
  const bool numeric_kinds = is_int(from) || is_flt(from) || is_num(from);
  bool ok = false;
  if (to == DatumKind::Text) ok = castable_to_text(from) && expr.type.typmod < 0;
  if (to == DatumKind::Bpchar)
    ok = (from == DatumKind::Text || from == DatumKind::Bpchar) && expr.type.typmod < 0;
  if (is_int(to) || is_flt(to) || is_num(to)) ok = numeric_kinds;
  if (to == DatumKind::Bool) ok = from == DatumKind::Int4 || from == DatumKind::Bool;
  if (to == DatumKind::Int4 && from == DatumKind::Bool) ok = true;
  if (from == DatumKind::Null) ok = true;  // NULL::type
  if (!ok) throw NotNative{describe(expr) + " from this type"};
  return std::make_unique<CastNode>(to, is_num(to) ? numeric_typmod(expr.type.typmod) : NumericTypmod{},
                                    std::move(arg));
}

}  // namespace pgstream::sql::eval
