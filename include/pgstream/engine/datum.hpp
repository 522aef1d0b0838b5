// Datum: one SQL value with PostgreSQL's semantics, read in place.
//
// Contract: a DatumRef is a non-owning view of one datum inside a packed Row
// (see row.hpp); it is valid while the bytes it views are. Every datum is
// encoded as [u8 DatumKind][payload]; fixed-width kinds have a fixed payload,
// the others [u32 length][bytes]. Encodings are canonical, so that byte
// equality is SQL equality (IS NOT DISTINCT FROM) for every kind except
// numeric scale and interval units (see normalized keys in row.hpp):
//   - float4/float8: -0 is stored as 0 and every NaN as one NaN (PostgreSQL:
//     NaN = NaN, and NaN sorts above every other value);
//   - bpchar: trailing blanks are dropped (they are insignificant);
//   - date/timestamp(tz): PostgreSQL's epoch (2000-01-01), days and
//     microseconds; -infinity/infinity are the minimum/maximum integers.
// Ordering (compare_datums) is PostgreSQL's btree order; text goes through a
// Collation (bytewise "C" unless the SQL module plugs in another one).
// Type OIDs are PostgreSQL's pg_type OIDs. Thread safety: views are
// immutable; Collation implementations must be safe to call concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

#include "pgstream/engine/numeric.hpp"

namespace pgstream::engine {

// PostgreSQL's pg_type OIDs of the types the engine knows natively.
namespace type_oid {
inline constexpr std::uint32_t kBool = 16;
inline constexpr std::uint32_t kBytea = 17;
inline constexpr std::uint32_t kName = 19;
inline constexpr std::uint32_t kInt8 = 20;
inline constexpr std::uint32_t kInt2 = 21;
inline constexpr std::uint32_t kInt4 = 23;
inline constexpr std::uint32_t kText = 25;
inline constexpr std::uint32_t kOid = 26;
inline constexpr std::uint32_t kJson = 114;
inline constexpr std::uint32_t kFloat4 = 700;
inline constexpr std::uint32_t kFloat8 = 701;
inline constexpr std::uint32_t kBpchar = 1042;
inline constexpr std::uint32_t kVarchar = 1043;
inline constexpr std::uint32_t kDate = 1082;
inline constexpr std::uint32_t kTime = 1083;
inline constexpr std::uint32_t kTimestamp = 1114;
inline constexpr std::uint32_t kTimestamptz = 1184;
inline constexpr std::uint32_t kInterval = 1186;
inline constexpr std::uint32_t kNumeric = 1700;
inline constexpr std::uint32_t kUuid = 2950;
inline constexpr std::uint32_t kJsonb = 3802;
// Types the engine does not pack, named where the SQL module resolves types.
inline constexpr std::uint32_t kUnknown = 705;
inline constexpr std::uint32_t kBit = 1560;
inline constexpr std::uint32_t kRecord = 2249;
}  // namespace type_oid

enum class DatumKind : std::uint8_t {
  Null = 0,
  Bool,
  Int2,
  Int4,
  Int8,
  Float4,
  Float8,
  Numeric,
  Text,  // text, varchar, name
  Bpchar,
  Bytea,
  Date,
  Time,
  Timestamp,
  TimestampTz,
  Interval,
  Uuid,
  Json,
  Jsonb,
  Array,
  PassThrough,  // any other type: its canonical text and its type OID
};

// The kind a column of this type OID packs as (PassThrough if unknown).
[[nodiscard]] DatumKind kind_for_type_oid(std::uint32_t oid) noexcept;
// The type OID of a kind (0 for Null, Array and PassThrough, which carry their own).
[[nodiscard]] std::uint32_t type_oid_for_kind(DatumKind kind) noexcept;
// Payload width of fixed-width kinds; 0 means variable width ([u32 length][bytes]).
[[nodiscard]] constexpr std::uint32_t fixed_width(DatumKind kind) noexcept {
  switch (kind) {
    case DatumKind::Null: return 0;
    case DatumKind::Bool: return 1;
    case DatumKind::Int2: return 2;
    case DatumKind::Int4:
    case DatumKind::Float4:
    case DatumKind::Date: return 4;
    case DatumKind::Int8:
    case DatumKind::Float8:
    case DatumKind::Time:
    case DatumKind::Timestamp:
    case DatumKind::TimestampTz: return 8;
    case DatumKind::Interval:
    case DatumKind::Uuid: return 16;
    default: return 0;
  }
}
[[nodiscard]] constexpr bool is_variable_width(DatumKind kind) noexcept {
  return kind != DatumKind::Null && fixed_width(kind) == 0;
}

inline constexpr std::int32_t kDateNegInfinity = INT32_MIN;
inline constexpr std::int32_t kDatePosInfinity = INT32_MAX;
inline constexpr std::int64_t kTimestampNegInfinity = INT64_MIN;
inline constexpr std::int64_t kTimestampPosInfinity = INT64_MAX;
inline constexpr std::int64_t kMicrosPerDay = 86400LL * 1000000LL;

// PostgreSQL's interval: compared as one span where a month is 30 days and a
// day is 24 hours, so '1 mon' = '30 days' although they print differently.
struct Interval {
  std::int64_t micros = 0;
  std::int32_t days = 0;
  std::int32_t months = 0;
  [[nodiscard]] Int128 span() const {
    return static_cast<Int128>(micros) + static_cast<Int128>(days) * kMicrosPerDay +
           static_cast<Int128>(months) * 30 * kMicrosPerDay;
  }
};

// Text ordering. Equality stays bytewise (deterministic collations).
class Collation {
 public:
  virtual ~Collation() = default;
  // <0, 0, >0.
  [[nodiscard]] virtual int compare(std::string_view a, std::string_view b) const = 0;
};
// Bytewise ("C") ordering, the default.
[[nodiscard]] const Collation& c_collation() noexcept;

class DatumRef {
 public:
  DatumRef() = default;
  // Decodes the datum that starts at `at`. REQUIRES: `at` points at a datum
  // written by RowPacker.
  static DatumRef decode(const std::byte* at) noexcept {
    DatumRef d;
    d.kind_ = static_cast<DatumKind>(at[0]);
    d.encoded_ = at;
    std::uint32_t width = fixed_width(d.kind_);
    if (is_variable_width(d.kind_)) {
      std::memcpy(&width, at + 1, 4);
      d.payload_ = at + 5;
      d.encoded_size_ = 5 + width;
    } else {
      d.payload_ = at + 1;
      d.encoded_size_ = 1 + width;
    }
    d.payload_size_ = width;
    return d;
  }

  [[nodiscard]] DatumKind kind() const noexcept { return kind_; }
  [[nodiscard]] bool is_null() const noexcept { return kind_ == DatumKind::Null; }
  // The whole encoding (tag and payload): what hashing and equality use.
  [[nodiscard]] std::span<const std::byte> encoded() const noexcept { return {encoded_, encoded_size_}; }
  [[nodiscard]] std::uint32_t encoded_size() const noexcept { return encoded_size_; }
  [[nodiscard]] std::span<const std::byte> payload() const noexcept { return {payload_, payload_size_}; }

  [[nodiscard]] bool as_bool() const noexcept { return payload_[0] != std::byte{0}; }
  [[nodiscard]] std::int16_t as_int2() const noexcept { return read<std::int16_t>(); }
  [[nodiscard]] std::int32_t as_int4() const noexcept { return read<std::int32_t>(); }
  [[nodiscard]] std::int64_t as_int8() const noexcept { return read<std::int64_t>(); }
  // Any integer kind widened to int64. REQUIRES: is_integer().
  [[nodiscard]] std::int64_t as_int() const noexcept {
    switch (kind_) {
      case DatumKind::Int2: return as_int2();
      case DatumKind::Int4: return as_int4();
      default: return as_int8();
    }
  }
  [[nodiscard]] bool is_integer() const noexcept {
    return kind_ == DatumKind::Int2 || kind_ == DatumKind::Int4 || kind_ == DatumKind::Int8;
  }
  [[nodiscard]] bool is_float() const noexcept {
    return kind_ == DatumKind::Float4 || kind_ == DatumKind::Float8;
  }
  [[nodiscard]] float as_float4() const noexcept { return read<float>(); }
  [[nodiscard]] double as_float8() const noexcept { return read<double>(); }
  // float4 or float8 as double. REQUIRES: is_float().
  [[nodiscard]] double as_double() const noexcept {
    return kind_ == DatumKind::Float4 ? static_cast<double>(as_float4()) : as_float8();
  }
  [[nodiscard]] Numeric as_numeric() const { return Numeric::unpack(payload()); }
  // text, varchar, bpchar, json, jsonb.
  [[nodiscard]] std::string_view as_text() const noexcept {
    return {reinterpret_cast<const char*>(payload_), payload_size_};
  }
  [[nodiscard]] std::int32_t as_date() const noexcept { return as_int4(); }
  [[nodiscard]] std::int64_t as_time() const noexcept { return as_int8(); }
  [[nodiscard]] std::int64_t as_timestamp() const noexcept { return as_int8(); }
  [[nodiscard]] Interval as_interval() const noexcept {
    Interval v;
    std::memcpy(&v.micros, payload_, 8);
    std::memcpy(&v.days, payload_ + 8, 4);
    std::memcpy(&v.months, payload_ + 12, 4);
    return v;
  }
  // PassThrough: the type OID and the canonical text.
  [[nodiscard]] std::uint32_t pass_through_oid() const noexcept { return read<std::uint32_t>(); }
  [[nodiscard]] std::string_view pass_through_text() const noexcept {
    return {reinterpret_cast<const char*>(payload_ + 4), payload_size_ - 4};
  }

 private:
  template <class T>
  [[nodiscard]] T read() const noexcept {
    T v;
    std::memcpy(&v, payload_, sizeof v);
    return v;
  }

  DatumKind kind_ = DatumKind::Null;
  const std::byte* encoded_ = nullptr;
  const std::byte* payload_ = nullptr;
  std::uint32_t encoded_size_ = 0;
  std::uint32_t payload_size_ = 0;
};

// Array payload: [u32 element type OID][u32 ndim][ndim x (i32 length, i32
// lower bound)][elements as packed datums, row-major].
struct ArrayView {
  std::uint32_t element_oid = 0;
  std::uint32_t ndim = 0;
  const std::byte* dims = nullptr;  // ndim pairs of i32
  std::span<const std::byte> elements;
  [[nodiscard]] std::int32_t length(std::uint32_t d) const noexcept;
  [[nodiscard]] std::int32_t lower_bound(std::uint32_t d) const noexcept;
};
[[nodiscard]] ArrayView array_view(DatumRef array) noexcept;

// PostgreSQL's btree order; NULL sorts after every value (ASC NULLS LAST).
// Integers compare across widths, floats across widths; values of unrelated
// kinds order by kind (the SQL module never compares them).
[[nodiscard]] int compare_datums(DatumRef a, DatumRef b, const Collation& collation = c_collation());

// Appends PostgreSQL's text output of the datum (as `SELECT value::text`
// prints it, DateStyle ISO, IntervalStyle postgres, timestamptz in UTC).
// NULL appends nothing; callers check is_null() first.
void format_datum(DatumRef datum, std::string& out);

// Calendar helpers (proleptic Gregorian), days relative to 2000-01-01.
[[nodiscard]] std::int32_t days_from_civil(std::int64_t year, unsigned month, unsigned day) noexcept;
void civil_from_days(std::int32_t days, std::int64_t& year, unsigned& month, unsigned& day) noexcept;

}  // namespace pgstream::engine
