// docs/TROUBLESHOOTING.md against the messages in src/: every message the
// daemon can print to a user — each `Error(ErrorKind::<kind>, "...")` other
// than Internal (a bug, documented as one) and each spdlog::error / warn /
// critical format — appears in the doc, and every error kind has a section.
//
// How a message is recognised: its message argument's string literals
// (adjacent literals joined, split at the `{}` of a log format) are scanned
// from the source text; the longest piece, trimmed of spaces and
// punctuation, must occur verbatim in the doc. Pieces shorter than 8
// characters say nothing (e.g. `name + ": " + why`) and are not required;
// such messages are documented by their varying part. The SQL compiler's
// "<construct> is not supported" messages are the matrix of SQL_SUPPORT.md
// and are checked there.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <regex>

#include "doc_table.hpp"
#include "pgstream/common/error.hpp"

namespace {

constexpr std::size_t kMinimumPiece = 8;

struct MessageSite {
  std::string where;  // file:line
  std::string piece;  // the longest literal piece, trimmed
};

std::string trim_punctuation(const std::string& text) {
  const char* const kTrimmed = " \t\n:;,.'\"()";
  const auto first = text.find_first_not_of(kTrimmed);
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(kTrimmed);
  return text.substr(first, last - first + 1);
}

// The string literals of the argument that starts at `pos` (up to the first
// ',' or closing bracket at depth 0), adjacent literals joined, escapes read.
std::vector<std::string> argument_literals(const std::string& source, std::size_t pos) {
  std::vector<std::string> literals;
  int depth = 0;
  bool adjacent = false;  // only white space since the last literal
  while (pos < source.size()) {
    const char c = source[pos];
    if (c == '"') {
      std::string literal;
      for (++pos; pos < source.size() && source[pos] != '"'; ++pos) {
        if (source[pos] == '\\' && pos + 1 < source.size()) {
          const char escaped = source[++pos];
          literal += escaped == 'n' ? '\n' : escaped;
        } else {
          literal += source[pos];
        }
      }
      ++pos;
      if (adjacent && !literals.empty()) {
        literals.back() += literal;
      } else {
        literals.push_back(literal);
      }
      adjacent = true;
      continue;
    }
    if (c == '\'' && pos + 1 < source.size() &&
        (pos == 0 || std::isalnum(static_cast<unsigned char>(source[pos - 1])) == 0)) {
      pos += source[pos + 1] == '\\' ? 4 : 3;  // a character literal, e.g. '"' (not a digit separator)
      adjacent = false;
      continue;
    }
    if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth == 0) break;
      --depth;
    } else if (c == ',' && depth == 0) {
      break;
    }
    if (c != ' ' && c != '\n' && c != '\t') adjacent = false;
    ++pos;
  }
  return literals;
}

std::string longest_piece(const std::vector<std::string>& literals) {
  std::string best;
  for (const auto& literal : literals) {
    std::size_t start = 0;
    while (start <= literal.size()) {
      auto end = std::min(literal.find("{}", start), literal.find('\n', start));
      if (end == std::string::npos) end = literal.size();
      const std::string piece = trim_punctuation(literal.substr(start, end - start));
      if (piece.size() > best.size()) best = piece;
      start = end + (end < literal.size() && literal[end] == '{' ? 2 : 1);
    }
  }
  return best;
}

std::vector<MessageSite> message_sites() {
  // Error(ErrorKind::Config, ...  Error{ErrorKind::Usage, ...  spdlog::warn(...
  const std::regex site(R"((Error[({]\s*ErrorKind::(\w+)\s*,|spdlog::(error|warn|critical)\())");
  std::vector<MessageSite> sites;
  const auto src = pgstream::testing::source_dir() / "src";
  for (const auto& entry : std::filesystem::recursive_directory_iterator(src)) {
    const auto extension = entry.path().extension();
    if (extension != ".cpp" && extension != ".hpp") continue;
    const std::string source = pgstream::testing::read_file_text(entry.path());
    for (auto it = std::sregex_iterator(source.begin(), source.end(), site); it != std::sregex_iterator();
         ++it) {
      if ((*it)[2].matched && (*it)[2] == "Internal") continue;
      const auto at = static_cast<std::size_t>(it->position() + it->length());
      const std::string piece = longest_piece(argument_literals(source, at));
      const auto line = std::count(source.begin(), source.begin() + it->position(), '\n') + 1;
      sites.push_back({.where = std::filesystem::relative(entry.path(), src.parent_path()).string() + ":" +
                                std::to_string(line),
                       .piece = piece});
    }
  }
  return sites;
}

// Just after the ',' that ends the argument starting at `pos`.
std::size_t after_argument(const std::string& source, std::size_t pos) {
  int depth = 0;
  for (; pos < source.size(); ++pos) {
    const char c = source[pos];
    if (c == '"') {
      for (++pos; pos < source.size() && source[pos] != '"'; ++pos) {
        if (source[pos] == '\\') ++pos;
      }
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      if (depth-- == 0) return source.size();
    } else if (c == ',' && depth == 0) {
      return pos + 1;
    }
  }
  return pos;
}

// The constructs the SQL compiler names in "<construct> is not supported":
// the first argument of unsupported_at() and not_supported(), the second
// of unsupported(text, construct, ...).
std::vector<MessageSite> construct_sites() {
  const std::regex site(R"(\b(unsupported_at|not_supported|unsupported)\()");
  std::vector<MessageSite> sites;
  const auto sql = pgstream::testing::source_dir() / "src" / "sql";
  for (const auto& entry : std::filesystem::directory_iterator(sql)) {
    const std::string source = pgstream::testing::read_file_text(entry.path());
    for (auto it = std::sregex_iterator(source.begin(), source.end(), site); it != std::sregex_iterator();
         ++it) {
      auto at = static_cast<std::size_t>(it->position() + it->length());
      if ((*it)[1] == "unsupported") at = after_argument(source, at);
      const auto line = std::count(source.begin(), source.begin() + it->position(), '\n') + 1;
      sites.push_back({.where = "src/sql/" + entry.path().filename().string() + ":" + std::to_string(line),
                       .piece = longest_piece(argument_literals(source, at))});
    }
  }
  return sites;
}

}  // namespace

TEST_CASE("the message scanner reads literals as the compiler does", "[docs][troubleshooting]") {
  const std::string source = R"(("cannot read " + path + " \"x\" on "
        "line " + std::to_string(n), {.hint = "ignored"}))";
  const auto literals = argument_literals(source, 1);
  REQUIRE(literals.size() == 2);
  CHECK(literals[0] == "cannot read ");
  CHECK(literals[1] == " \"x\" on line ");
  CHECK(longest_piece({"replication: {}; reconnecting in {} ms (attempt {})"}) == "reconnecting in");
  CHECK(longest_piece({"stream table ", ": output column \"", "\" uses the prefix __pgs_"}) ==
        "uses the prefix __pgs_");
}

TEST_CASE("docs/TROUBLESHOOTING.md has every message the daemon prints", "[docs][troubleshooting]") {
  const std::string doc =
      pgstream::testing::read_file_text(pgstream::testing::source_dir() / "docs/TROUBLESHOOTING.md");
  REQUIRE_FALSE(doc.empty());
  const auto sites = message_sites();
  REQUIRE(sites.size() >= 60);
  std::size_t checked = 0;
  for (const auto& site : sites) {
    if (site.piece.size() < kMinimumPiece) continue;
    ++checked;
    INFO(site.where << " prints a message containing \"" << site.piece
                    << "\", which docs/TROUBLESHOOTING.md does not mention: add it with its meaning and fix");
    CHECK(doc.find(site.piece) != std::string::npos);
  }
  CHECK(checked >= 60);
}

TEST_CASE("docs/TROUBLESHOOTING.md has a section for every error kind", "[docs][troubleshooting]") {
  const std::string doc =
      pgstream::testing::read_file_text(pgstream::testing::source_dir() / "docs/TROUBLESHOOTING.md");
  using pgstream::ErrorKind;
  for (const auto kind : {ErrorKind::Usage, ErrorKind::Config, ErrorKind::Unsupported, ErrorKind::Connection,
                          ErrorKind::Database, ErrorKind::Protocol, ErrorKind::Io, ErrorKind::Internal}) {
    const std::string heading = "`pgstream: " + std::string(pgstream::to_string(kind)) + " error:`";
    INFO("docs/TROUBLESHOOTING.md needs the heading text " << heading);
    CHECK(doc.find(heading) != std::string::npos);
  }
}

TEST_CASE("docs/SQL_SUPPORT.md lists every construct the compiler rejects", "[docs][troubleshooting]") {
  const std::string doc =
      pgstream::testing::read_file_text(pgstream::testing::source_dir() / "docs/SQL_SUPPORT.md");
  REQUIRE_FALSE(doc.empty());
  std::size_t checked = 0;
  for (const auto& site : construct_sites()) {
    if (site.piece.size() < kMinimumPiece) continue;
    ++checked;
    INFO(site.where
         << " rejects \"" << site.piece
         << " is not supported\", which docs/SQL_SUPPORT.md does not list: add it to its last table");
    CHECK(doc.find(site.piece) != std::string::npos);
  }
  CHECK(checked >= 60);
}
