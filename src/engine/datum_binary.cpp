#include "pgstream/engine/datum_binary.hpp"

#include <bit>
#include <cstring>
#include <string_view>

#include "pgstream/common/big_endian.hpp"

namespace pgstream::engine {

namespace {

void append_length(std::string& out, std::size_t length) {
  append_big_endian(out, static_cast<std::int32_t>(length));
}

void append_bytes(std::string& out, std::string_view bytes) {
  append_length(out, bytes.size());
  out += bytes;
}

// numeric_send: int16 ndigits, int16 weight, uint16 sign, int16 dscale, then
// ndigits base-10000 digits, most significant first; weight is the power of
// 10000 of the first digit. Encoded from the value's decimal text, which is
// exactly what numeric_out prints.
constexpr std::uint16_t kNumericPositive = 0x0000;
constexpr std::uint16_t kNumericNegative = 0x4000;
constexpr std::uint16_t kNumericNaN = 0xC000;
constexpr std::uint16_t kNumericPosInf = 0xD000;
constexpr std::uint16_t kNumericNegInf = 0xF000;

void append_numeric_header(std::string& out, std::size_t ndigits, int weight, std::uint16_t sign,
                           std::size_t dscale) {
  append_length(out, 8 + 2 * ndigits);
  append_big_endian(out, static_cast<std::int16_t>(ndigits));
  append_big_endian(out, static_cast<std::int16_t>(weight));
  append_big_endian(out, sign);
  append_big_endian(out, static_cast<std::int16_t>(dscale));
}

void append_numeric(std::string& out, std::string_view text) {
  if (text == "NaN") return append_numeric_header(out, 0, 0, kNumericNaN, 0);
  if (text == "Infinity") return append_numeric_header(out, 0, 0, kNumericPosInf, 0);
  if (text == "-Infinity") return append_numeric_header(out, 0, 0, kNumericNegInf, 0);
  std::string_view digits = text;
  const bool negative = !digits.empty() && digits.front() == '-';
  if (negative) digits.remove_prefix(1);
  const std::size_t point = digits.find('.');
  const std::string_view whole = digits.substr(0, point);
  const std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : digits.substr(point + 1);
  // Base-10000 groups: the whole part padded on the left, the fraction on
  // the right, to multiples of four decimal digits. Read from the text as
  // needed: a numeric can have thousands of groups, a row many numerics.
  const std::size_t whole_groups = (whole.size() + 3) / 4;
  const std::size_t groups = whole_groups + (fraction.size() + 3) / 4;
  const std::size_t lead = whole_groups * 4 - whole.size();
  auto group = [&](std::size_t index) {
    int value = 0;
    for (std::size_t digit = index * 4; digit < index * 4 + 4; ++digit) {
      char c = '0';
      if (digit < whole_groups * 4) {
        if (digit >= lead) c = whole[digit - lead];
      } else if (digit - whole_groups * 4 < fraction.size()) {
        c = fraction[digit - whole_groups * 4];
      }
      value = value * 10 + (c - '0');
    }
    return static_cast<std::int16_t>(value);
  };
  // Leading and trailing zero groups are not sent (numeric_send's form).
  std::size_t first = 0;
  std::size_t last = groups;
  while (first < last && group(first) == 0) ++first;
  while (last > first && group(last - 1) == 0) --last;
  const int weight = first == last ? 0 : static_cast<int>(whole_groups) - 1 - static_cast<int>(first);
  append_numeric_header(out, last - first, weight,
                        negative && first != last ? kNumericNegative : kNumericPositive, fraction.size());
  for (std::size_t i = first; i < last; ++i) append_big_endian(out, group(i));
}

std::string_view payload_text(DatumRef datum) {
  const auto bytes = datum.payload();
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

bool binary_sendable(std::uint32_t type_oid) noexcept {
  return type_oid != type_oid::kName && kind_for_type_oid(type_oid) != DatumKind::PassThrough;
}

bool append_binary_field(DatumRef datum, std::uint32_t type_oid, std::string_view text, std::string& out) {
  if (!binary_sendable(type_oid)) return false;
  if (datum.is_null()) {
    append_big_endian(out, std::int32_t{-1});
    return true;
  }
  if (datum.kind() != kind_for_type_oid(type_oid)) return false;
  switch (datum.kind()) {
    case DatumKind::Bool:
      append_length(out, 1);
      out += datum.as_bool() ? '\1' : '\0';
      return true;
    case DatumKind::Int2:
      append_length(out, 2);
      append_big_endian(out, datum.as_int2());
      return true;
    case DatumKind::Int4:
    case DatumKind::Date:
      append_length(out, 4);
      append_big_endian(out, datum.as_int4());
      return true;
    case DatumKind::Int8:
    case DatumKind::Time:
    case DatumKind::Timestamp:
    case DatumKind::TimestampTz:
      append_length(out, 8);
      append_big_endian(out, datum.as_int8());
      return true;
    case DatumKind::Float4:
      append_length(out, 4);
      append_big_endian(out, std::bit_cast<std::uint32_t>(datum.as_float4()));
      return true;
    case DatumKind::Float8:
      append_length(out, 8);
      append_big_endian(out, std::bit_cast<std::uint64_t>(datum.as_float8()));
      return true;
    case DatumKind::Numeric:
      if (text.empty()) {
        append_numeric(out, datum.as_numeric().to_string());
      } else {
        append_numeric(out, text);
      }
      return true;
    case DatumKind::Text:
    case DatumKind::Bpchar:
    case DatumKind::Json: append_bytes(out, datum.as_text()); return true;
    case DatumKind::Jsonb:
      // jsonb_send: a format version byte, then the text.
      append_length(out, 1 + datum.as_text().size());
      out += '\1';
      out += datum.as_text();
      return true;
    case DatumKind::Bytea:
    case DatumKind::Uuid: append_bytes(out, payload_text(datum)); return true;
    case DatumKind::Interval: {
      const Interval interval = datum.as_interval();
      append_length(out, 16);
      append_big_endian(out, interval.micros);
      append_big_endian(out, interval.days);
      append_big_endian(out, interval.months);
      return true;
    }
    case DatumKind::Null:
    case DatumKind::Array:
    case DatumKind::PassThrough: return false;
  }
  return false;
}

}  // namespace pgstream::engine
