// docs/CONFIGURATION.md against the config loader: the key table documents
// exactly the keys the loader knows (known_config_keys(), the validator's own
// table), each documented default is what the loader fills in when the key
// is left out, and each documented example loads.
//
// The doc's convention: a row of a table whose first cell is a dotted key in
// a code span (`writer.pool_size`) documents that key; its third cell is the
// default and its fifth an example, each checked when it is a code span.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "doc_table.hpp"
#include "pgstream/common/error.hpp"
#include "pgstream/daemon/config.hpp"

namespace {

using pgstream::daemon::Config;

constexpr std::size_t kDefaultCell = 2;
constexpr std::size_t kExampleCell = 4;

struct DocumentedKey {
  int line = 0;
  std::string default_value;  // empty: not a code span (required, "empty", ...)
  std::string example;
};

std::map<std::string, DocumentedKey> documented_keys() {
  const auto text =
      pgstream::testing::read_file_text(pgstream::testing::source_dir() / "docs/CONFIGURATION.md");
  std::map<std::string, DocumentedKey> keys;
  for (const auto& row : pgstream::testing::table_rows(text)) {
    if (row.cells.empty()) continue;
    const std::string key = pgstream::testing::code_span(row.cells[0]);
    if (key.empty() || key.find('.') == std::string::npos || key.find(' ') != std::string::npos) continue;
    DocumentedKey documented;
    documented.line = row.line;
    if (row.cells.size() > kDefaultCell)
      documented.default_value = pgstream::testing::code_span(row.cells[kDefaultCell]);
    if (row.cells.size() > kExampleCell)
      documented.example = pgstream::testing::code_span(row.cells[kExampleCell]);
    keys.emplace(key, documented);
  }
  return keys;
}

std::string yaml_scalar(const std::string& value) {
  if (value == "null") return value;
  std::string quoted = "\"";
  for (const char c : value) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

// A minimal valid file, with `key` set to `value` when key is not empty.
std::string yaml_with(const std::string& key, const std::string& value) {
  const auto dot = key.find('.');
  const std::string section = key.empty() ? "" : key.substr(0, dot);
  const std::string leaf = key.empty() ? "" : key.substr(dot + 1);
  std::string yaml = "postgres:\n";
  if (section != "postgres" || leaf != "dsn") yaml += "  dsn: \"host=localhost dbname=app\"\n";
  if (section == "postgres") yaml += "  " + leaf + ": " + yaml_scalar(value) + "\n";
  if (section == "stream_tables[]") {
    yaml +=
        "stream_tables:\n  - name: " + (leaf == "name" ? yaml_scalar(value) : std::string("public.totals")) +
        "\n    query: " + (leaf == "query" ? yaml_scalar(value) : std::string("\"SELECT 1 AS one\"")) + "\n";
    if (leaf != "name" && leaf != "query") yaml += "    " + leaf + ": " + yaml_scalar(value) + "\n";
  } else if (!section.empty() && section != "postgres") {
    yaml += section + ":\n  " + leaf + ": " + yaml_scalar(value) + "\n";
  }
  return yaml;
}

// Everything a key can change, as text (describe() leaves out the log
// settings and the stream tables' queries).
std::string effective(const Config& config) {
  std::string text = pgstream::daemon::describe(config);
  text += "\nlog: " + std::to_string(static_cast<int>(config.log.level)) + " " +
          std::to_string(static_cast<int>(config.log.format));
  text += "\ndsn: " + config.postgres.dsn;
  for (const auto& table : config.stream_tables) text += "\nquery: " + table.query;
  return text;
}

}  // namespace

TEST_CASE("docs/CONFIGURATION.md documents exactly the keys the loader knows", "[docs][config]") {
  const auto documented = documented_keys();
  REQUIRE(documented.size() >= 10);
  const auto known = pgstream::daemon::known_config_keys();
  const std::set<std::string> known_set(known.begin(), known.end());
  for (const auto& [key, doc] : documented) {
    INFO("docs/CONFIGURATION.md:" << doc.line << " documents `" << key
                                  << "`, which the loader does not know");
    CHECK(known_set.count(key) == 1);
  }
  for (const auto& key : known) {
    INFO("the loader knows `" << key
                              << "` (src/daemon/config.cpp), but docs/CONFIGURATION.md has no row for it");
    CHECK(documented.count(key) == 1);
  }
}

TEST_CASE("each documented default is the loader's default, each documented example loads",
          "[docs][config]") {
  // Without the key; a stream table's key is left out of an entry that has
  // only the required name and query.
  const Config minimal = pgstream::daemon::parse_config(yaml_with("", ""), "minimal.yaml", std::nullopt);
  const Config one_table = pgstream::daemon::parse_config(yaml_with("stream_tables[].name", "public.totals"),
                                                          "one.yaml", std::nullopt);
  std::size_t defaults = 0;
  std::size_t examples = 0;
  for (const auto& [key, doc] : documented_keys()) {
    if (!doc.default_value.empty()) {
      ++defaults;
      const std::string yaml = yaml_with(key, doc.default_value);
      INFO("docs/CONFIGURATION.md:" << doc.line << ": `" << key << "` default `" << doc.default_value << "`\n"
                                    << yaml);
      try {
        const Config config = pgstream::daemon::parse_config(yaml, "default.yaml", std::nullopt);
        const Config& baseline = key.rfind("stream_tables[].", 0) == 0 ? one_table : minimal;
        CHECK(effective(config) == effective(baseline));
      } catch (const pgstream::Error& error) {
        FAIL_CHECK(error.message());
      }
    }
    if (!doc.example.empty()) {
      ++examples;
      const std::string yaml = yaml_with(key, doc.example);
      INFO("docs/CONFIGURATION.md:" << doc.line << ": `" << key << "` example `" << doc.example << "`\n"
                                    << yaml);
      try {
        (void)pgstream::daemon::parse_config(yaml, "example.yaml", std::nullopt);
      } catch (const pgstream::Error& error) {
        FAIL_CHECK(error.message());
      }
    }
  }
  CHECK(defaults >= 10);
  CHECK(examples >= 14);
}

TEST_CASE("the annotated example in docs/CONFIGURATION.md loads", "[docs][config]") {
  const auto text =
      pgstream::testing::read_file_text(pgstream::testing::source_dir() / "docs/CONFIGURATION.md");
  const auto start = text.find("```yaml\n");
  REQUIRE(start != std::string::npos);
  const auto end = text.find("```\n", start + 8);
  REQUIRE(end != std::string::npos);
  const Config config = pgstream::daemon::parse_config(text.substr(start + 8, end - start - 8),
                                                       "CONFIGURATION.md", std::nullopt);
  CHECK_FALSE(config.stream_tables.empty());
}
