// Rows as the writer receives them: one line of COPY text format per row
// (fields separated by a tab, `\N` for NULL, tabs, newlines and backslashes
// inside a value escaped as `\t`, `\n`, `\\`), and the stable hash the writer
// stores beside each row of a target.
//
// Contract: pure functions, thread-safe. Because a tab inside a value is
// always escaped, splitting a line on raw tab bytes is exact.
//
// The hash is STORED IN TARGETS (column __pgs_hash): never change it. It is
// FNV-1a 64 over the exact bytes of the fields as they appear in the line,
// joined by one tab byte; a keyless target hashes the whole line, a keyed
// target the key fields in the order of TargetSpec::key. The 64 bits are
// stored as a bigint (two's complement).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace pgstream::writer {

// The fields of `line` (no trailing newline), as views into it, escapes kept.
// Appends to `fields` after clearing it, so that a caller can reuse the buffer.
void split_copy_fields(std::string_view line, std::vector<std::string_view>& fields);

// FNV-1a 64 of `bytes`, as a signed 64-bit value. Never change it.
[[nodiscard]] std::int64_t stable_hash(std::string_view bytes) noexcept;

// stable_hash of the fields picked by `indexes`, joined by a tab: equal to
// stable_hash(line) when `indexes` lists every field in order.
// REQUIRES: every index < fields.size().
[[nodiscard]] std::int64_t stable_hash(std::span<const std::string_view> fields,
                                       std::span<const int> indexes) noexcept;

}  // namespace pgstream::writer
