// PostgreSQL's COPY text format, one line at a time: fields separated by a
// tab, NULL written as \N, and backslash escapes for backslash, tab,
// newline and carriage return (plus the octal/hex/\b\f\v forms COPY accepts
// on input). The daemon reads snapshots and targets in this format and
// stages deltas in it.
//
// Contract: split_copy_line() undoes exactly what append_copy_field() and
// the server's COPY TO produce; stateless and thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgstream {

// Appends `value` escaped as one COPY text field (no separator).
void append_copy_field(std::string& line, std::string_view value);
// Appends the NULL marker \N.
inline void append_copy_null(std::string& line) { line += "\\N"; }

// Splits `line` (without its newline) into unescaped fields; nullopt is NULL.
// `fields` is reused (cleared first).
void split_copy_line(std::string_view line, std::vector<std::optional<std::string>>& fields);

}  // namespace pgstream
