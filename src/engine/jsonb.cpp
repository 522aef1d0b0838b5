#include "pgstream/engine/jsonb.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/engine/numeric.hpp"

namespace pgstream::engine {
namespace {

// Recursive descent over the document, printing canonical jsonb as it goes
// (objects are collected first to order and de-duplicate their keys).
class Canonicalizer {
 public:
  explicit Canonicalizer(std::string_view text) : text_(text) {}

  std::string run() {
    std::string out;
    value(out);
    skip_space();
    if (at_ != text_.size()) fail();
    return out;
  }

 private:
  [[noreturn]] void fail() const {
    throw Error(ErrorKind::Database, "invalid input syntax for type json", {.sqlstate = "22P02"});
  }
  void skip_space() {
    while (at_ < text_.size() &&
           (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n' || text_[at_] == '\r'))
      ++at_;
  }
  char peek() {
    skip_space();
    if (at_ >= text_.size()) fail();
    return text_[at_];
  }
  void expect(char c) {
    if (peek() != c) fail();
    ++at_;
  }
  bool literal(std::string_view word) {
    if (text_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  void value(std::string& out) {
    char c = peek();
    if (c == '{') {
      object(out);
    } else if (c == '[') {
      array(out);
    } else if (c == '"') {
      append_json_string(string(), out);
    } else if (literal("true")) {
      out += "true";
    } else if (literal("false")) {
      out += "false";
    } else if (literal("null")) {
      out += "null";
    } else {
      number(out);
    }
  }

  void object(std::string& out) {
    expect('{');
    std::vector<std::pair<std::string, std::string>> members;
    if (peek() != '}') {
      for (;;) {
        if (peek() != '"') fail();
        std::string key = string();
        expect(':');
        std::string v;
        value(v);
        members.emplace_back(std::move(key), std::move(v));
        if (peek() == '}') break;
        expect(',');
      }
    }
    ++at_;
    std::stable_sort(members.begin(), members.end(), [](const auto& a, const auto& b) {
      return a.first.size() != b.first.size() ? a.first.size() < b.first.size() : a.first < b.first;
    });
    out.push_back('{');
    bool first = true;
    for (std::size_t i = 0; i < members.size(); ++i) {
      if (i + 1 < members.size() && members[i + 1].first == members[i].first) continue;  // the last wins
      if (!first) out += ", ";
      first = false;
      append_json_string(members[i].first, out);
      out += ": ";
      out += members[i].second;
    }
    out.push_back('}');
  }

  void array(std::string& out) {
    expect('[');
    out.push_back('[');
    if (peek() != ']') {
      for (bool first = true;; first = false) {
        if (!first) out += ", ";
        value(out);
        if (peek() == ']') break;
        expect(',');
      }
    }
    ++at_;
    out.push_back(']');
  }

  unsigned hex4() {
    if (at_ + 4 > text_.size()) fail();
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[at_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        fail();
      }
    }
    return v;
  }

  static void append_utf8(unsigned cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  // A string literal's contents, unescaped.
  std::string string() {
    expect('"');
    std::string s;
    for (;;) {
      if (at_ >= text_.size()) fail();
      char c = text_[at_++];
      if (c == '"') return s;
      if (static_cast<unsigned char>(c) < 0x20) fail();
      if (c != '\\') {
        s.push_back(c);
        continue;
      }
      if (at_ >= text_.size()) fail();
      switch (text_[at_++]) {
        case '"': s.push_back('"'); break;
        case '\\': s.push_back('\\'); break;
        case '/': s.push_back('/'); break;
        case 'b': s.push_back('\b'); break;
        case 'f': s.push_back('\f'); break;
        case 'n': s.push_back('\n'); break;
        case 'r': s.push_back('\r'); break;
        case 't': s.push_back('\t'); break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
            if (!literal("\\u")) fail();
            unsigned low = hex4();
            if (low < 0xDC00 || low >= 0xE000) fail();
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail();
          }
          append_utf8(cp, s);
          break;
        }
        default: fail();
      }
    }
  }

  void number(std::string& out) {
    std::size_t start = at_;
    if (at_ < text_.size() && text_[at_] == '-') ++at_;
    if (at_ + 1 < text_.size() && text_[at_] == '0' && text_[at_ + 1] >= '0' && text_[at_ + 1] <= '9')
      fail();  // no leading zeros
    auto digits = [&] {
      std::size_t from = at_;
      while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') ++at_;
      if (at_ == from) fail();
    };
    digits();
    if (at_ < text_.size() && text_[at_] == '.') {
      ++at_;
      digits();
    }
    if (at_ < text_.size() && (text_[at_] == 'e' || text_[at_] == 'E')) {
      ++at_;
      if (at_ < text_.size() && (text_[at_] == '+' || text_[at_] == '-')) ++at_;
      digits();
    }
    out += Numeric::parse(text_.substr(start, at_ - start)).to_string();
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

}  // namespace

std::string jsonb_canonical(std::string_view json) { return Canonicalizer(json).run(); }

void append_json_string(std::string_view text, std::string& out) {
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

}  // namespace pgstream::engine
