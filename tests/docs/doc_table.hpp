// Reads the machine-readable tables of the reference docs: Markdown table
// rows ("| a | b | c |"), cells split on unescaped '|', "\|" read as '|',
// code spans (`...`) unwrapped by code_span().
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pgstream::testing {

inline std::filesystem::path source_dir() { return PGSTREAM_SOURCE_DIR; }

inline std::string read_file_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct TableRow {
  int line = 0;  // in the document, for messages
  std::vector<std::string> cells;
};

inline std::string trim(std::string text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

// Every table row of `markdown` (lines starting with '|'), separator rows
// (|---|) left out.
inline std::vector<TableRow> table_rows(const std::string& markdown) {
  std::vector<TableRow> rows;
  std::istringstream in(markdown);
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line[0] != '|') continue;
    if (line.rfind("|---", 0) == 0 || line.rfind("| ---", 0) == 0) continue;
    TableRow row;
    row.line = number;
    std::string cell;
    for (std::size_t i = 1; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] == '|') {
        cell += '|';
        ++i;
      } else if (line[i] == '|') {
        row.cells.push_back(trim(cell));
        cell.clear();
      } else {
        cell += line[i];
      }
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

// The text of a cell that is exactly one code span (`x`), else "".
inline std::string code_span(const std::string& cell) {
  if (cell.size() < 2 || cell.front() != '`' || cell.back() != '`') return {};
  const std::string inner = cell.substr(1, cell.size() - 2);
  if (inner.find('`') != std::string::npos) return {};
  return inner;
}

}  // namespace pgstream::testing
