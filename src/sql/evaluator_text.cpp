// The native evaluator's string functions and operators: text || text,
// length/char_length/octet_length, substr/substring, LIKE / NOT LIKE.
// Text is UTF-8 (the server encoding pg_stream requires); case mapping
// (lower/upper/ILIKE) depends on the collation's locale and is left to the
// server.
#include <algorithm>
#include <array>
#include <cctype>
#include <climits>

#include "evaluator_nodes.hpp"

namespace pgstream::sql::eval {
namespace {

using engine::DatumKind;
using engine::DatumRef;
using engine::RowRef;

bool is_utf8_lead(char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }

std::size_t char_count(std::string_view s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), is_utf8_lead));
}

// Byte length of the UTF-8 character starting at s[i].
std::size_t char_len(std::string_view s, std::size_t i) {
  std::size_t n = 1;
  while (i + n < s.size() && !is_utf8_lead(s[i + n])) ++n;
  return n;
}

// Byte offset of the `n`th character (0-based), or s.size().
std::size_t char_offset(std::string_view s, std::int64_t n) {
  std::size_t i = 0;
  for (; i < s.size() && n > 0; --n) i += char_len(s, i);
  return std::min(i, s.size());
}

// PostgreSQL's LIKE with the default escape '\': '%' any string, '_' one character.
bool like(std::string_view s, std::string_view p) {
  std::size_t si = 0;
  std::size_t pi = 0;
  std::size_t star_p = std::string_view::npos;
  std::size_t star_s = 0;
  while (si < s.size()) {
    if (pi < p.size()) {
      const char c = p[pi];
      if (c == '%') {
        star_p = ++pi;
        star_s = si;
        continue;
      }
      if (c == '_') {
        si += char_len(s, si);
        ++pi;
        continue;
      }
      std::size_t lit = pi;
      if (c == '\\') {
        if (pi + 1 >= p.size()) throw_sql("22025", "LIKE pattern must not end with escape character");
        lit = pi + 1;
      }
      if (s[si] == p[lit]) {
        ++si;
        pi = lit + 1;
        continue;
      }
    }
    if (star_p == std::string_view::npos) return false;
    star_s += char_len(s, star_s);
    si = star_s;
    pi = star_p;
  }
  while (pi < p.size() && p[pi] == '%') ++pi;
  return pi == p.size();
}

enum class TextFn : std::uint8_t { Concat, Length, OctetLength, Substr, Like, NotLike };

class TextNode final : public Node {
 public:
  TextNode(DatumKind kind, TextFn fn, std::vector<NodePtr> args)
      : Node(kind), fn_(fn), args_(std::move(args)) {}
  DatumRef eval(RowRef input) const override {
    // Every function here is strict: NULL in, NULL out.
    for (std::size_t i = 0; i < args_.size(); ++i) {
      values_[i] = args_[i]->eval(input);
      if (values_[i].is_null()) return null();
    }
    engine::RowPacker& out = start();
    const std::string_view s = values_[0].as_text();
    switch (fn_) {
      case TextFn::Concat:
        text_.assign(s);
        text_.append(values_[1].as_text());
        out.push_text(text_);
        break;
      case TextFn::Length: out.push_int4(static_cast<std::int32_t>(char_count(s))); break;
      case TextFn::OctetLength: out.push_int4(static_cast<std::int32_t>(s.size())); break;
      case TextFn::Substr: out.push_text(substr(s)); break;
      case TextFn::Like: out.push_bool(like(s, values_[1].as_text())); break;
      case TextFn::NotLike: out.push_bool(!like(s, values_[1].as_text())); break;
    }
    return finish();
  }

 private:
  // PostgreSQL's text_substring: characters [start, start + length), 1-based.
  [[nodiscard]] std::string_view substr(std::string_view s) const {
    const std::int64_t start = values_[1].as_int();
    std::int64_t end = INT64_MAX;
    if (args_.size() == 3) {
      const std::int64_t length = values_[2].as_int();
      if (length < 0) throw_sql("22011", "negative substring length not allowed");
      end = start + length;
    }
    if (end <= 1) return {};
    const std::size_t from = char_offset(s, std::max<std::int64_t>(start, 1) - 1);
    const std::size_t to = end == INT64_MAX ? s.size() : char_offset(s, end - 1);
    return s.substr(from, std::max(to, from) - from);
  }

  TextFn fn_;
  std::vector<NodePtr> args_;
  mutable std::array<DatumRef, 3> values_{};
  mutable std::string text_;
};

std::string base_name(const std::string& name) {
  std::string out = name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool textual(DatumKind k) { return k == DatumKind::Text || k == DatumKind::Bpchar; }

// The function and its result kind, or NotNative.
TextFn classify(const Expr& expr, const std::vector<NodePtr>& args) {
  const std::string name = base_name(expr.name);
  const std::size_t n = args.size();
  const auto kind = [&](std::size_t i) { return args[i]->kind(); };
  const bool first_text = n >= 1 && textual(kind(0));
  const bool int_arg = [&] {
    for (std::size_t i = 1; i < n; ++i) {
      if (kind(i) != DatumKind::Int4) return false;
    }
    return true;
  }();
  if (name == "||" && n == 2 && kind(0) == DatumKind::Text && kind(1) == DatumKind::Text)
    return TextFn::Concat;
  if ((name == "length" || name == "char_length" || name == "character_length") && n == 1 && first_text)
    return TextFn::Length;
  if (name == "octet_length" && n == 1 && kind(0) == DatumKind::Text) return TextFn::OctetLength;
  if ((name == "substr" || name == "substring") && (n == 2 || n == 3) && kind(0) == DatumKind::Text &&
      int_arg)
    return TextFn::Substr;
  if ((name == "~~" || name == "!~~") && n == 2 && kind(0) == DatumKind::Text && kind(1) == DatumKind::Text)
    return name == "~~" ? TextFn::Like : TextFn::NotLike;
  throw NotNative{describe(expr) + (n > 0 ? " on these types" : "")};
}

}  // namespace

NodePtr make_text_function(const Expr& expr, std::vector<NodePtr> args) {
  const TextFn fn = classify(expr, args);
  return std::make_unique<TextNode>(kind_of(expr.type), fn, std::move(args));
}

}  // namespace pgstream::sql::eval
