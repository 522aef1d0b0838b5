// jsonb's canonical text: what PostgreSQL prints for a value after `::jsonb`.
//
// Contract: jsonb_canonical(json) parses a JSON document (RFC 8259, as
// PostgreSQL's json input accepts it) and prints it as jsonb_out does:
// object keys ordered by length then bytes with the last of duplicate keys
// kept, ", " and ": " separators, numbers as numeric prints them (1e2 ->
// 100, 1.50 stays 1.50), strings unescaped and re-escaped (\u00e9 -> é).
// Invalid JSON throws Error 22P02. Pure function, thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace pgstream::engine {

[[nodiscard]] std::string jsonb_canonical(std::string_view json);

// Appends `text` as a JSON string literal with PostgreSQL's escape_json
// rules (", \, \b, \f, \n, \r, \t, other control characters as \u00XX).
void append_json_string(std::string_view text, std::string& out);

}  // namespace pgstream::engine
