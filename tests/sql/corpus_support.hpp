// The query corpus: tests/sql/queries/*.sql, one query per file, compiled
// against the shared schema of tests/sql/setup.sql.
//
// File format: optional header lines, then the query.
//   -- <free text describing what the query covers>
//   -- error: <the exact Error::message() compile_query must throw>
// Header lines are the leading lines starting with "--"; the query is the
// rest of the file, so line:column in messages count from its first line.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pgstream::testing {

struct CorpusQuery {
  std::string file;
  std::string sql;
  std::string expected_error;  // empty: the query must compile
};

inline std::filesystem::path sql_test_dir() { return PGSTREAM_SQL_TEST_DIR; }

inline std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline CorpusQuery load_corpus_query(const std::filesystem::path& path) {
  CorpusQuery query;
  query.file = path.filename().string();
  std::istringstream in(read_text(path));
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header && line.rfind("--", 0) == 0) {
      const std::string marker = "-- error: ";
      if (line.rfind(marker, 0) == 0) query.expected_error = line.substr(marker.size());
      continue;
    }
    header = false;
    query.sql += line + "\n";
  }
  while (!query.sql.empty() && (query.sql.back() == '\n' || query.sql.back() == ' ')) query.sql.pop_back();
  return query;
}

inline std::vector<CorpusQuery> load_corpus() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(sql_test_dir() / "queries")) {
    if (entry.path().extension() == ".sql") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<CorpusQuery> out;
  for (const auto& file : files) out.push_back(load_corpus_query(file));
  return out;
}

}  // namespace pgstream::testing
