#include "pgstream/sql/parse_tree.hpp"

#include <pg_query.h>

#include <utility>

namespace pgstream::sql {

namespace {

constexpr std::string_view kDefaultHint =
    "Rewrite the query without it, or declare the stream table with refresh_mode: FULL.";

struct ProtobufResultGuard {
  PgQueryProtobufParseResult result;
  ~ProtobufResultGuard() { pg_query_free_protobuf_parse_result(result); }
};

bool is_continuation_byte(unsigned char byte) noexcept { return (byte & 0xC0U) == 0x80U; }

}  // namespace

SourcePosition position_of(std::string_view text, int offset) noexcept {
  if (offset < 0) return {};
  SourcePosition position{.line = 1, .column = 1};
  const auto end = std::min(static_cast<std::size_t>(offset), text.size());
  for (std::size_t i = 0; i < end; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == '\n') {
      ++position.line;
      position.column = 1;
    } else if (!is_continuation_byte(byte)) {
      ++position.column;
    }
  }
  return position;
}

std::string describe_position(SourcePosition position) {
  if (position.line == 0) return "unknown position";
  return "line " + std::to_string(position.line) + ", column " + std::to_string(position.column);
}

void ParseResultDeleter::operator()(PgQuery__ParseResult* result) const noexcept {
  pg_query__parse_result__free_unpacked(result, nullptr);
}

ParseTree ParseTree::parse(std::string text) {
  ProtobufResultGuard guard{pg_query_parse_protobuf(text.c_str())};
  if (guard.result.error != nullptr) {
    const PgQueryError& error = *guard.result.error;
    const SourcePosition position = position_of(text, error.cursorpos - 1);
    throw Error(ErrorKind::Config, std::string(error.message) + " (" + describe_position(position) + ")",
                {.sqlstate = "42601", .detail = "", .hint = "Check the query's syntax."});
  }
  const auto* data = reinterpret_cast<const std::uint8_t*>(guard.result.parse_tree.data);
  PgQuery__ParseResult* unpacked = pg_query__parse_result__unpack(nullptr, guard.result.parse_tree.len, data);
  if (unpacked == nullptr) throw Error(ErrorKind::Internal, "libpg_query returned an unreadable parse tree");
  return ParseTree(std::move(text), unpacked);
}

const PgQuery__Node& ParseTree::single_statement() const {
  if (result_->n_stmts != 1 || result_->stmts[0]->stmt == nullptr) {
    const int location = result_->n_stmts > 1 ? result_->stmts[1]->stmt_location : 0;
    throw unsupported(text_, "a query text with " + std::to_string(result_->n_stmts) + " statements",
                      location, "A stream table is defined by exactly one SELECT statement.");
  }
  return *result_->stmts[0]->stmt;
}

std::vector<TokenSpan> scan_tokens(const std::string& text) {
  std::vector<TokenSpan> tokens;
  PgQueryScanResult scanned = pg_query_scan(text.c_str());
  if (scanned.error == nullptr) {
    const auto* data = reinterpret_cast<const std::uint8_t*>(scanned.pbuf.data);
    PgQuery__ScanResult* result = pg_query__scan_result__unpack(nullptr, scanned.pbuf.len, data);
    if (result != nullptr) {
      tokens.reserve(result->n_tokens);
      for (std::size_t i = 0; i < result->n_tokens; ++i) {
        tokens.push_back({.start = result->tokens[i]->start, .end = result->tokens[i]->end});
      }
      pg_query__scan_result__free_unpacked(result, nullptr);
    }
  }
  pg_query_free_scan_result(scanned);
  return tokens;
}

Error unsupported(std::string_view text, std::string_view construct, int location, std::string hint) {
  const SourcePosition position = position_of(text, location);
  std::string message = std::string(construct) + " is not supported";
  if (position.line > 0) message += " (" + describe_position(position) + ")";
  if (hint.empty()) hint = std::string(kDefaultHint);
  return Error(ErrorKind::Unsupported, std::move(message),
               {.sqlstate = "0A000", .detail = "", .hint = std::move(hint)});
}

}  // namespace pgstream::sql
