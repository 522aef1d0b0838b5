// Datum text input: PostgreSQL's text representation (what pgoutput sends in
// text mode, what `value::text` prints) into a packed datum.
//
// Contract: parse_datum() appends exactly one datum of the kind
// kind_for_type_oid(type_oid) to `out`, or throws pgstream::Error with
// PostgreSQL's SQLSTATE (22P02 invalid text, 22003 out of range, 22007/22008
// bad date/time) and appends nothing. It accepts what PostgreSQL's output
// functions produce (DateStyle ISO, IntervalStyle postgres, timestamptz with
// a numeric UTC offset, bytea hex format) — not every input PostgreSQL itself
// would accept. One-dimensional and multi-dimensional arrays of the native
// kinds are parsed from their '{...}' form (type OIDs of the common array
// types); any other type is kept as pass-through text with its OID.
// Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string_view>

#include "pgstream/engine/row.hpp"

namespace pgstream::engine {

void parse_datum(std::uint32_t type_oid, std::string_view text, RowPacker& out);

// The element type OID of a PostgreSQL array type OID (0 if not an array type we know).
[[nodiscard]] std::uint32_t array_element_oid(std::uint32_t array_type_oid) noexcept;

}  // namespace pgstream::engine
