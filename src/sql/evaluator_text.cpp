// The native evaluator's string functions and operators: text || text,
// length/char_length/octet_length, substr/substring, LIKE / NOT LIKE.
// Text is UTF-8 (the server encoding pg_stream requires). Case mapping
// (lower/upper/ILIKE) is native only under the "C"/"POSIX" collations, where
// PostgreSQL maps ASCII letters only; other locales are left to the server.
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

enum class TextFn : std::uint8_t {
  Concat,
  Length,
  OctetLength,
  Substr,
  Like,
  NotLike,
  ILike,
  NotILike,
  Lower,
  Upper,
  BTrim,
  LTrim,
  RTrim,
  Replace,
  StrPos,
  SplitPart
};

void ascii_case(std::string_view s, bool upper, std::string& out) {
  out.assign(s);
  for (char& c : out) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

// Whether the character at s[i..i+n) is one of `set`'s characters.
bool in_set(std::string_view s, std::size_t i, std::size_t n, std::string_view set) {
  for (std::size_t j = 0; j < set.size(); j += char_len(set, j)) {
    if (set.substr(j, char_len(set, j)) == s.substr(i, n)) return true;
  }
  return false;
}

// PostgreSQL's btrim/ltrim/rtrim: drops characters of `set` from the ends.
std::string_view trim(std::string_view s, std::string_view set, bool left, bool right) {
  std::size_t from = 0;
  while (left && from < s.size() && in_set(s, from, char_len(s, from), set)) from += char_len(s, from);
  std::size_t to = s.size();
  while (right && to > from) {
    std::size_t lead = to - 1;
    while (lead > from && !is_utf8_lead(s[lead])) --lead;
    if (!in_set(s, lead, to - lead, set)) break;
    to = lead;
  }
  return s.substr(from, to - from);
}

// PostgreSQL's split_part: field n (1-based; negative counts from the end).
std::string_view split_part(std::string_view s, std::string_view delim, std::int64_t n) {
  if (n == 0) throw_sql("22023", "field position must not be zero");
  if (s.empty()) return {};
  if (delim.empty()) return n == 1 || n == -1 ? s : std::string_view{};
  std::int64_t fields = 1;
  for (std::size_t at = s.find(delim); at != std::string_view::npos; at = s.find(delim, at + delim.size())) {
    ++fields;
  }
  if (n < 0) n += fields + 1;
  if (n < 1 || n > fields) return {};
  std::size_t from = 0;
  for (std::int64_t k = 1; k < n; ++k) from = s.find(delim, from) + delim.size();
  const std::size_t to = s.find(delim, from);
  return s.substr(from, to == std::string_view::npos ? std::string_view::npos : to - from);
}

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
      case TextFn::ILike:
      case TextFn::NotILike: out.push_bool(ilike(s, values_[1].as_text()) == (fn_ == TextFn::ILike)); break;
      case TextFn::Lower:
      case TextFn::Upper:
        ascii_case(s, fn_ == TextFn::Upper, text_);
        out.push_text(text_);
        break;
      default: two_or_more(s, out); break;
    }
    return finish();
  }

 private:
  void two_or_more(std::string_view s, engine::RowPacker& out) const {
    const std::string_view set = args_.size() > 1 ? values_[1].as_text() : std::string_view(" ");
    switch (fn_) {
      case TextFn::BTrim: out.push_text(trim(s, set, true, true)); break;
      case TextFn::LTrim: out.push_text(trim(s, set, true, false)); break;
      case TextFn::RTrim: out.push_text(trim(s, set, false, true)); break;
      case TextFn::Replace: out.push_text(replace(s, values_[1].as_text(), values_[2].as_text())); break;
      case TextFn::StrPos: {
        const std::size_t at = s.find(values_[1].as_text());
        out.push_int4(
            at == std::string_view::npos ? 0 : static_cast<std::int32_t>(char_count(s.substr(0, at)) + 1));
        break;
      }
      default: out.push_text(split_part(s, values_[1].as_text(), values_[2].as_int())); break;
    }
  }

  [[nodiscard]] std::string_view replace(std::string_view s, std::string_view from,
                                         std::string_view to) const {
    if (from.empty()) return s;
    text_.clear();
    std::size_t at = 0;
    for (std::size_t hit = s.find(from); hit != std::string_view::npos; hit = s.find(from, at)) {
      text_.append(s.substr(at, hit - at));
      text_.append(to);
      at = hit + from.size();
    }
    text_.append(s.substr(at));
    return text_;
  }

  // ILIKE under the C collation: LIKE on ASCII-lowered text and pattern.
  [[nodiscard]] bool ilike(std::string_view s, std::string_view pattern) const {
    ascii_case(s, false, text_);
    ascii_case(pattern, false, pattern_);
    return like(text_, pattern_);
  }

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
  mutable std::string pattern_;
};

std::string base_name(const std::string& name) {
  std::string out = name.substr(name.rfind('.') == std::string::npos ? 0 : name.rfind('.') + 1);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool textual(DatumKind k) { return k == DatumKind::Text || k == DatumKind::Bpchar; }

bool c_collation_input(const Expr& expr) { return is_c_collation(input_collation(expr)); }

bool all_text(const std::vector<NodePtr>& args, std::size_t from, std::size_t to) {
  if (args.size() < to) return false;
  for (std::size_t i = from; i < to; ++i) {
    if (args[i]->kind() != DatumKind::Text) return false;
  }
  return true;
}

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
  if ((name == "~~*" || name == "!~~*") && n == 2 && all_text(args, 0, 2) && c_collation_input(expr))
    return name == "~~*" ? TextFn::ILike : TextFn::NotILike;
  if ((name == "lower" || name == "upper") && n == 1 && all_text(args, 0, 1) && c_collation_input(expr))
    return name == "lower" ? TextFn::Lower : TextFn::Upper;
  if ((name == "btrim" || name == "ltrim" || name == "rtrim") && (n == 1 || n == 2) && all_text(args, 0, n))
    return name == "btrim" ? TextFn::BTrim : (name == "ltrim" ? TextFn::LTrim : TextFn::RTrim);
  if (name == "replace" && n == 3 && all_text(args, 0, 3)) return TextFn::Replace;
  if ((name == "strpos" || name == "position") && n == 2 && all_text(args, 0, 2)) return TextFn::StrPos;
  if (name == "split_part" && n == 3 && all_text(args, 0, 2) && kind(2) == DatumKind::Int4)
    return TextFn::SplitPart;
  throw NotNative{describe(expr) + (n > 0 ? " on these types" : "")};
}

}  // namespace

NodePtr make_text_function(const Expr& expr, std::vector<NodePtr> args) {
  const TextFn fn = classify(expr, args);
  return std::make_unique<TextNode>(kind_of(expr.type), fn, std::move(args));
}

}  // namespace pgstream::sql::eval
