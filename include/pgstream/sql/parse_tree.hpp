// ParseTree: PostgreSQL's own raw parse tree of one SQL text, produced by
// libpg_query (PostgreSQL 15 grammar) as protobuf-c structs.
//
// Contract: a ParseTree owns the unpacked protobuf message and frees it
// exactly once; node pointers handed out stay valid while it lives. It is
// movable, not copyable, and immutable after construction (safe to read from
// several threads). Syntax errors throw Error{Config} from parse(), with
// PostgreSQL's message and the line:column of the error.
// Positions: libpg_query reports byte offsets into the text; position_of()
// turns them into 1-based line:column (columns count characters, not bytes).
#pragma once

#include <pg_query/pg_query.pb-c.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pgstream/common/error.hpp"

namespace pgstream::sql {

struct SourcePosition {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based, in characters
};

// The line:column of byte `offset` in `text`; {0,0} for a negative offset.
[[nodiscard]] SourcePosition position_of(std::string_view text, int offset) noexcept;
// "line 3, column 14" (or "unknown position").
[[nodiscard]] std::string describe_position(SourcePosition position);

struct ParseResultDeleter {
  void operator()(PgQuery__ParseResult* result) const noexcept;
};

class ParseTree {
 public:
  // Parses `text`. Throws Error{Config} "syntax error ... at line L, column C"
  // with PostgreSQL's own message when the text is not valid SQL.
  static ParseTree parse(std::string text);

  [[nodiscard]] const std::string& text() const noexcept { return text_; }
  [[nodiscard]] const PgQuery__ParseResult& result() const noexcept { return *result_; }
  // The only statement; throws Error{Unsupported} unless there is exactly one.
  [[nodiscard]] const PgQuery__Node& single_statement() const;

 private:
  ParseTree(std::string text, PgQuery__ParseResult* result) : text_(std::move(text)), result_(result) {}
  std::string text_;
  std::unique_ptr<PgQuery__ParseResult, ParseResultDeleter> result_;
};

// The byte ranges [start, end) of the SQL tokens of `text` (PostgreSQL's own
// scanner); empty if the text cannot be scanned.
struct TokenSpan {
  int start = 0;
  int end = 0;
};
[[nodiscard]] std::vector<TokenSpan> scan_tokens(const std::string& text);

// An Error{Unsupported} naming `construct`, located in `text` at byte
// `location`: "<construct> is not supported (line L, column C)", with `hint`
// (default: use refresh_mode: FULL).
[[nodiscard]] Error unsupported(std::string_view text, std::string_view construct, int location,
                                std::string hint = {});

}  // namespace pgstream::sql
