#include "pgstream/common/copy_text.hpp"

namespace pgstream {

void append_copy_field(std::string& line, std::string_view value) {
  for (const char ch : value) {
    switch (ch) {
      case '\\': line += "\\\\"; break;
      case '\t': line += "\\t"; break;
      case '\n': line += "\\n"; break;
      case '\r': line += "\\r"; break;
      default: line += ch;
    }
  }
}

namespace {

int digit_value(char ch, int base) {
  int value = -1;
  if (ch >= '0' && ch <= '9') value = ch - '0';
  if (ch >= 'a' && ch <= 'f') value = ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') value = ch - 'A' + 10;
  return value < base ? value : -1;
}

// Unescapes one field; `pos` points after the backslash on entry.
void unescape_one(std::string_view field, std::size_t& pos, std::string& out) {
  const char ch = field[pos++];
  switch (ch) {
    case 'b': out += '\b'; return;
    case 'f': out += '\f'; return;
    case 'n': out += '\n'; return;
    case 'r': out += '\r'; return;
    case 't': out += '\t'; return;
    case 'v': out += '\v'; return;
    case 'x': {
      int value = 0;
      int digits = 0;
      while (digits < 2 && pos < field.size() && digit_value(field[pos], 16) >= 0) {
        value = value * 16 + digit_value(field[pos++], 16);
        ++digits;
      }
      if (digits == 0) {
        out += 'x';
      } else {
        out += static_cast<char>(value);
      }
      return;
    }
    default:
      if (digit_value(ch, 8) >= 0) {
        int value = digit_value(ch, 8);
        for (int digits = 1; digits < 3 && pos < field.size() && digit_value(field[pos], 8) >= 0; ++digits) {
          value = value * 8 + digit_value(field[pos++], 8);
        }
        out += static_cast<char>(value & 0xFF);
        return;
      }
      out += ch;
  }
}

}  // namespace

void split_copy_line(std::string_view line, std::vector<std::optional<std::string>>& fields) {
  fields.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t tab = line.find('\t', start);
    const std::string_view field =
        line.substr(start, tab == std::string_view::npos ? line.size() - start : tab - start);
    if (field == "\\N") {
      fields.emplace_back(std::nullopt);
    } else {
      std::string value;
      value.reserve(field.size());
      for (std::size_t pos = 0; pos < field.size();) {
        if (field[pos] == '\\' && pos + 1 < field.size()) {
          ++pos;
          unescape_one(field, pos, value);
        } else {
          value += field[pos++];
        }
      }
      fields.emplace_back(std::move(value));
    }
    if (tab == std::string_view::npos) return;
    start = tab + 1;
  }
}

}  // namespace pgstream
