#include "pgstream/engine/datum_io.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "pgstream/common/error.hpp"

namespace pgstream::engine {
namespace {

[[noreturn]] void invalid(std::string_view type, std::string_view text, const char* sqlstate = "22P02") {
  throw Error(ErrorKind::Database,
              "invalid input syntax for type " + std::string(type) + ": \"" + std::string(text) + "\"",
              {.sqlstate = sqlstate});
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::int64_t parse_integer(std::string_view text, std::int64_t min, std::int64_t max, std::string_view type) {
  std::string_view s = trim(text);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && (v < min || v > max)))
    throw Error(ErrorKind::Database,
                "value \"" + std::string(text) + "\" is out of range for type " + std::string(type),
                {.sqlstate = "22003"});
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) invalid(type, text);
  return v;
}

double parse_float(std::string_view text, std::string_view type) {
  std::string s(trim(text));
  std::string lower;
  for (char c : s) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower == "nan") return std::numeric_limits<double>::quiet_NaN();
  if (lower == "infinity" || lower == "+infinity" || lower == "inf")
    return std::numeric_limits<double>::infinity();
  if (lower == "-infinity" || lower == "-inf") return -std::numeric_limits<double>::infinity();
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size()) invalid(type, text);
  return v;
}

// Reads `digits` decimal digits at `at`; -1 if they are not all digits.
int read_digits(std::string_view s, std::size_t at, std::size_t digits) {
  if (at + digits > s.size()) return -1;
  int v = 0;
  for (std::size_t i = at; i < at + digits; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

// YYYY-MM-DD (year may have more digits), returns days since 2000-01-01.
std::int32_t parse_date_part(std::string_view s, std::size_t& at, std::string_view original) {
  std::size_t dash = s.find('-', at);
  if (dash == std::string_view::npos || dash < at + 4) invalid("date", original, "22007");
  int year = read_digits(s, at, dash - at);
  int month = read_digits(s, dash + 1, 2);
  int day = read_digits(s, dash + 4, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31 || s[dash + 3] != '-')
    invalid("date", original, "22007");
  at = dash + 6;
  bool bc = s.size() >= 3 && s.substr(s.size() - 3) == " BC";
  std::int64_t y = bc ? 1 - year : year;
  return days_from_civil(y, static_cast<unsigned>(month), static_cast<unsigned>(day));
}

// HH:MM:SS[.ffffff] -> microseconds.
std::int64_t parse_time_part(std::string_view s, std::size_t& at, std::string_view original) {
  int h = read_digits(s, at, 2);
  int m = read_digits(s, at + 3, 2);
  int sec = read_digits(s, at + 6, 2);
  if (h < 0 || m < 0 || sec < 0 || s[at + 2] != ':' || s[at + 5] != ':') invalid("time", original, "22007");
  at += 8;
  std::int64_t micros = ((h * 60LL + m) * 60 + sec) * 1000000;
  if (at < s.size() && s[at] == '.') {
    ++at;
    std::int64_t frac = 0;
    int digits = 0;
    while (at < s.size() && std::isdigit(static_cast<unsigned char>(s[at]))) {
      if (digits < 6) frac = frac * 10 + (s[at] - '0');
      ++digits;
      ++at;
    }
    for (; digits < 6; ++digits) frac *= 10;
    micros += frac;
  }
  return micros;
}

std::int64_t parse_timestamp(std::string_view text, bool with_zone) {
  std::string_view s = trim(text);
  if (s == "infinity") return kTimestampPosInfinity;
  if (s == "-infinity") return kTimestampNegInfinity;
  std::size_t at = 0;
  std::int64_t days = parse_date_part(s, at, text);
  if (at >= s.size() || (s[at] != ' ' && s[at] != 'T')) invalid("timestamp", text, "22007");
  ++at;
  std::int64_t micros = parse_time_part(s, at, text);
  std::int64_t value = days * kMicrosPerDay + micros;
  if (with_zone && at < s.size() && (s[at] == '+' || s[at] == '-')) {
    int sign = s[at] == '-' ? -1 : 1;
    int oh = read_digits(s, at + 1, 2);
    if (oh < 0) invalid("timestamp with time zone", text, "22007");
    int om = at + 3 < s.size() && s[at + 3] == ':' ? read_digits(s, at + 4, 2) : 0;
    int os = at + 6 < s.size() && s[at + 6] == ':' ? read_digits(s, at + 7, 2) : 0;
    value -= sign * ((oh * 60LL + std::max(om, 0)) * 60 + std::max(os, 0)) * 1000000;
  }
  return value;
}

// IntervalStyle postgres: "1 year 2 mons -3 days +04:05:06.5".
Interval parse_interval(std::string_view text) {
  Interval v;
  std::string_view s = trim(text);
  while (!s.empty()) {
    std::size_t space = s.find(' ');
    std::string_view token = s.substr(0, space);
    s = space == std::string_view::npos ? std::string_view() : trim(s.substr(space));
    if (token.find(':') != std::string_view::npos) {
      bool negative = token.front() == '-';
      if (token.front() == '-' || token.front() == '+') token.remove_prefix(1);
      std::size_t c1 = token.find(':');
      std::size_t c2 = token.find(':', c1 + 1);
      std::int64_t hours = parse_integer(token.substr(0, c1), 0, INT32_MAX, "interval");
      std::int64_t minutes = parse_integer(
          token.substr(c1 + 1, c2 == std::string_view::npos ? std::string_view::npos : c2 - c1 - 1), 0, 59,
          "interval");
      std::int64_t micros = 0;
      if (c2 != std::string_view::npos) {
        std::string sec(token.substr(c2 + 1));
        micros = std::llround(std::strtod(sec.c_str(), nullptr) * 1e6);
      }
      std::int64_t total = (hours * 3600 + minutes * 60) * 1000000 + micros;
      v.micros += negative ? -total : total;
      continue;
    }
    std::int64_t n = parse_integer(token, INT32_MIN, INT32_MAX, "interval");
    std::size_t next = s.find(' ');
    std::string_view unit = s.substr(0, next);
    s = next == std::string_view::npos ? std::string_view() : trim(s.substr(next));
    if (unit.starts_with("year")) {
      v.months += static_cast<std::int32_t>(n * 12);
    } else if (unit.starts_with("mon")) {
      v.months += static_cast<std::int32_t>(n);
    } else if (unit.starts_with("day")) {
      v.days += static_cast<std::int32_t>(n);
    } else {
      invalid("interval", text, "22007");
    }
  }
  return v;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void parse_hex(std::string_view hex, std::vector<std::byte>& out, std::string_view type,
               std::string_view text) {
  for (std::size_t i = 0; i < hex.size();) {
    if (hex[i] == '-') {
      ++i;
      continue;
    }
    int hi = hex_value(hex[i]);
    int lo = i + 1 < hex.size() ? hex_value(hex[i + 1]) : -1;
    if (hi < 0 || lo < 0) invalid(type, text);
    out.push_back(static_cast<std::byte>(hi * 16 + lo));
    i += 2;
  }
}

// '{...}' arrays: elements are parsed with the element type; nested braces
// are dimensions. Writes the elements to `elements` and the lengths.
void parse_array_level(std::string_view s, std::size_t& at, std::uint32_t element_oid, std::size_t depth,
                       std::vector<std::int32_t>& lengths, RowPacker& elements, std::string_view text) {
  if (at >= s.size() || s[at] != '{') invalid("array", text);
  ++at;
  if (lengths.size() <= depth) lengths.push_back(0);
  std::int32_t count = 0;
  while (at < s.size() && s[at] != '}') {
    if (s[at] == '{') {
      parse_array_level(s, at, element_oid, depth + 1, lengths, elements, text);
    } else {
      std::string value;
      bool quoted = s[at] == '"';
      if (quoted) {
        ++at;
        while (at < s.size() && s[at] != '"') {
          if (s[at] == '\\') ++at;
          if (at < s.size()) value.push_back(s[at++]);
        }
        ++at;
      } else {
        while (at < s.size() && s[at] != ',' && s[at] != '}') value.push_back(s[at++]);
      }
      if (!quoted && (value == "NULL" || value == "null")) {
        elements.push_null();
      } else {
        parse_datum(element_oid, value, elements);
      }
    }
    ++count;
    if (at < s.size() && s[at] == ',') ++at;
  }
  if (at >= s.size()) invalid("array", text);
  ++at;
  lengths[depth] = count;
}

void parse_array(std::uint32_t element_oid, std::string_view text, RowPacker& out) {
  std::string_view s = trim(text);
  std::vector<std::int32_t> lower;
  if (!s.empty() && s.front() == '[') {  // explicit bounds: [1:3][2:4]=
    std::size_t eq = s.find('=');
    if (eq == std::string_view::npos) invalid("array", text);
    for (std::size_t at = 0; at < eq && s[at] == '[';) {
      std::size_t colon = s.find(':', at);
      std::size_t close = s.find(']', at);
      lower.push_back(static_cast<std::int32_t>(
          parse_integer(s.substr(at + 1, colon - at - 1), INT32_MIN, INT32_MAX, "array")));
      at = close + 1;
    }
    s = s.substr(eq + 1);
  }
  std::vector<std::int32_t> lengths;
  RowPacker elements;
  std::size_t at = 0;
  parse_array_level(s, at, element_oid, 0, lengths, elements, text);
  if (lengths.size() == 1 && lengths[0] == 0) lengths.clear();
  lower.resize(lengths.size(), 1);
  out.push_array(element_oid, lengths, lower, elements.row());
}

}  // namespace

std::uint32_t array_element_oid(std::uint32_t array_type_oid) noexcept {
  switch (array_type_oid) {
    case 1000: return type_oid::kBool;
    case 1001: return type_oid::kBytea;
    case 1005: return type_oid::kInt2;
    case 1007: return type_oid::kInt4;
    case 1009: return type_oid::kText;
    case 1014: return type_oid::kBpchar;
    case 1015: return type_oid::kVarchar;
    case 1016: return type_oid::kInt8;
    case 1021: return type_oid::kFloat4;
    case 1022: return type_oid::kFloat8;
    case 1115: return type_oid::kTimestamp;
    case 1182: return type_oid::kDate;
    case 1183: return type_oid::kTime;
    case 1185: return type_oid::kTimestamptz;
    case 1187: return type_oid::kInterval;
    case 1231: return type_oid::kNumeric;
    case 199: return type_oid::kJson;
    case 2951: return type_oid::kUuid;
    case 3807: return type_oid::kJsonb;
    default: return 0;
  }
}

void parse_datum(std::uint32_t type_oid, std::string_view text, RowPacker& out) {
  if (std::uint32_t element = array_element_oid(type_oid); element != 0) {
    parse_array(element, text, out);
    return;
  }
  switch (kind_for_type_oid(type_oid)) {
    case DatumKind::Bool: {
      std::string_view s = trim(text);
      if (s == "t" || s == "true" || s == "TRUE" || s == "on" || s == "yes" || s == "1") {
        out.push_bool(true);
      } else if (s == "f" || s == "false" || s == "FALSE" || s == "off" || s == "no" || s == "0") {
        out.push_bool(false);
      } else {
        invalid("boolean", text);
      }
      return;
    }
    case DatumKind::Int2:
      out.push_int2(static_cast<std::int16_t>(parse_integer(text, INT16_MIN, INT16_MAX, "smallint")));
      return;
    case DatumKind::Int4:
      out.push_int4(static_cast<std::int32_t>(parse_integer(text, INT32_MIN, INT32_MAX, "integer")));
      return;
    case DatumKind::Int8: out.push_int8(parse_integer(text, INT64_MIN, INT64_MAX, "bigint")); return;
    case DatumKind::Float4: out.push_float4(static_cast<float>(parse_float(text, "real"))); return;
    case DatumKind::Float8: out.push_float8(parse_float(text, "double precision")); return;
    case DatumKind::Numeric: out.push_numeric(Numeric::parse(text)); return;
    case DatumKind::Text: out.push_text(text); return;
    case DatumKind::Bpchar: out.push_bpchar(text); return;
    case DatumKind::Json: out.push_json(text); return;
    case DatumKind::Jsonb: out.push_jsonb(text); return;
    case DatumKind::Bytea: {
      if (text.size() < 2 || text[0] != '\\' || text[1] != 'x') invalid("bytea", text);
      std::vector<std::byte> bytes;
      parse_hex(text.substr(2), bytes, "bytea", text);
      out.push_bytea(bytes);
      return;
    }
    case DatumKind::Uuid: {
      std::vector<std::byte> bytes;
      std::string_view s = trim(text);
      if (!s.empty() && s.front() == '{') s = s.substr(1, s.size() - 2);
      parse_hex(s, bytes, "uuid", text);
      if (bytes.size() != 16) invalid("uuid", text);
      out.push_uuid(std::span<const std::byte, 16>(bytes.data(), 16));
      return;
    }
    case DatumKind::Date: {
      std::string_view s = trim(text);
      if (s == "infinity") {
        out.push_date(kDatePosInfinity);
      } else if (s == "-infinity") {
        out.push_date(kDateNegInfinity);
      } else {
        std::size_t at = 0;
        out.push_date(parse_date_part(s, at, text));
      }
      return;
    }
    case DatumKind::Time: {
      std::size_t at = 0;
      out.push_time(parse_time_part(trim(text), at, text));
      return;
    }
    case DatumKind::Timestamp: out.push_timestamp(parse_timestamp(text, false)); return;
    case DatumKind::TimestampTz: out.push_timestamptz(parse_timestamp(text, true)); return;
    case DatumKind::Interval: out.push_interval(parse_interval(text)); return;
    default: out.push_pass_through(type_oid, text); return;
  }
}

}  // namespace pgstream::engine
