// Datum binary output: a datum in PostgreSQL's binary send format, as one
// field of COPY ... FROM STDIN (FORMAT binary), so that the writer can stage
// rows without the server parsing their text (see docs/WRITER.md).
//
// Contract: append_binary_field() appends the field's length as a big-endian
// int32 (-1 for NULL, no bytes follow) and the bytes the type's receive
// function reads (int2send, numeric_send, timestamp_send, jsonb_send, ...).
// The server applies the column's typmod on receipt, as it does for text.
// It covers the native kinds whose binary format the engine's datum holds
// exactly: bool, int2/4/8, float4/8, numeric, text, varchar, bpchar, bytea,
// date, time, timestamp(tz), interval, uuid, json and jsonb. Arrays,
// pass-through types, name (a fixed 64-byte type whose receive function
// rejects long values, where its input truncates) and domains are not
// covered: binary_sendable() is false for them and the caller stages text.
// Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pgstream/engine/datum.hpp"

namespace pgstream::engine {

// Whether a column of this type OID can be sent in binary.
[[nodiscard]] bool binary_sendable(std::uint32_t type_oid) noexcept;

// Appends `datum` as a binary field of a column of type `type_oid`. Returns
// false, leaving `out` as it was, when the type is not binary_sendable() or
// the datum (not NULL) is of another kind than the type's. `text` is
// format_datum()'s output for the datum, which callers printing the row
// anyway pass so that a numeric is not printed twice (its base-10000 digits
// are read from it); empty makes the function print it when it needs it.
[[nodiscard]] bool append_binary_field(DatumRef datum, std::uint32_t type_oid, std::string_view text,
                                       std::string& out);

}  // namespace pgstream::engine
