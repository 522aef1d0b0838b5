// Reading Prometheus' text exposition format in tests.
#pragma once

#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace pgstream::testing {

// The names of the metric families (their "# TYPE" lines).
inline std::set<std::string> metric_families(const std::string& text) {
  std::set<std::string> names;
  const std::regex type_line("^# TYPE (\\S+) (\\S+)$");
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch match;
    if (std::regex_match(line, match, type_line)) names.insert(match[1]);
  }
  return names;
}

}  // namespace pgstream::testing
