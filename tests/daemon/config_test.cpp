#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <sstream>

#include "pgstream/common/error.hpp"
#include "pgstream/daemon/config.hpp"

using pgstream::Error;
using pgstream::ErrorKind;
using namespace pgstream::daemon;

namespace {

const char* const kFull = R"(postgres:
  dsn: "host=127.0.0.1 port=5432 dbname=app user=pgstream password=s3cr3t"
  slot: pgstream_main
  publication: pgs_pub
  catalog_schema: pgs
writer:
  pool_size: 8
  max_batch_rows: 1000
  max_batch_delay: 50ms
metrics:
  listen: 0.0.0.0:9999
  ready_max_lag: 30s
log:
  level: debug
  format: json
stream_tables:
  - name: analytics.customer_totals
    query: |
      SELECT region, count(*) FROM customers GROUP BY region
    refresh_mode: DIFFERENTIAL
    schedule: null
  - name: '"Mixed Case"."Totals"'
    query: SELECT 1
    refresh_mode: FULL
    schedule: 5m
  - name: hourly
    query: SELECT 2
    schedule: '@hourly'
)";

// The problems of a config that must fail, one string per line of the message.
std::vector<std::string> problems_of(const std::string& yaml, std::optional<std::string> dsn = std::nullopt) {
  try {
    (void)parse_config(yaml, "test.yaml", std::move(dsn));
  } catch (const Error& error) {
    CHECK(error.kind() == ErrorKind::Config);
    std::vector<std::string> lines;
    std::istringstream in(error.message());
    std::string line;
    std::getline(in, line);  // the header line
    while (std::getline(in, line)) lines.push_back(line.substr(line.find_first_not_of(' ')));
    return lines;
  }
  FAIL("the config was accepted:\n" << yaml);
  return {};
}

}  // namespace

TEST_CASE("a complete config loads with every value", "[daemon][config]") {
  const Config config = parse_config(kFull, "test.yaml", std::nullopt);
  CHECK(config.postgres.slot == "pgstream_main");
  CHECK(config.postgres.publication == "pgs_pub");
  CHECK(config.postgres.catalog_schema == "pgs");
  CHECK(config.writer.pool_size == 8);
  CHECK(config.writer.max_batch_rows == 1000);
  CHECK(config.writer.max_batch_delay == std::chrono::milliseconds(50));
  CHECK(config.metrics.listen_host == "0.0.0.0");
  CHECK(config.metrics.listen_port == 9999);
  CHECK(config.metrics.ready_max_lag == std::chrono::seconds(30));
  CHECK(config.log.level == pgstream::LogLevel::Debug);
  CHECK(config.log.format == pgstream::LogFormat::Json);
  REQUIRE(config.stream_tables.size() == 3);
  CHECK(config.stream_tables[0].name == QualifiedName{"analytics", "customer_totals"});
  CHECK(config.stream_tables[0].query.find("GROUP BY region") != std::string::npos);
  CHECK(config.stream_tables[0].schedule.kind() == Schedule::Kind::Continuous);
  CHECK(config.stream_tables[0].line == 17);
  CHECK(config.stream_tables[1].name == QualifiedName{"Mixed Case", "Totals"});
  CHECK(config.stream_tables[1].refresh_mode == RefreshMode::Full);
  CHECK(config.stream_tables[1].schedule.kind() == Schedule::Kind::Interval);
  CHECK(config.stream_tables[1].schedule.interval() == std::chrono::minutes(5));
  CHECK(config.stream_tables[2].name == QualifiedName{"public", "hourly"});
  CHECK(config.stream_tables[2].schedule.kind() == Schedule::Kind::Cron);
}

TEST_CASE("defaults are SPEC's", "[daemon][config]") {
  const Config config = parse_config("postgres:\n  dsn: dbname=app\n", "test.yaml", std::nullopt);
  CHECK(config.postgres.slot == "pgstream");
  CHECK(config.postgres.publication == "pgstream");
  CHECK(config.postgres.catalog_schema == "pgstream");
  CHECK(config.writer.pool_size == 4);
  CHECK(config.writer.max_batch_rows == 50000);
  CHECK(config.writer.max_batch_delay == std::chrono::milliseconds(20));
  CHECK(config.metrics.listen_host == "127.0.0.1");
  CHECK(config.metrics.listen_port == 9187);
  CHECK(config.log.level == pgstream::LogLevel::Info);
  CHECK(config.log.format == pgstream::LogFormat::Text);
  CHECK(config.stream_tables.empty());
}

TEST_CASE("the shipped example config is valid", "[daemon][config]") {
  const char* source_dir = std::getenv("PGSTREAM_SOURCE_DIR");
  REQUIRE(source_dir != nullptr);
  const Config config = load_config(std::string(source_dir) + "/config/pgstream.example.yaml", std::nullopt);
  CHECK(config.stream_tables.size() == 1);
}

TEST_CASE("PGSTREAM_DSN replaces postgres.dsn, and one of them is required", "[daemon][config]") {
  const Config config = parse_config("postgres:\n  dsn: dbname=file\n", "t", std::string("dbname=env"));
  CHECK(config.postgres.dsn == "dbname=env");
  CHECK(parse_config("log:\n  level: warn\n", "t", std::string("dbname=env")).postgres.dsn == "dbname=env");
  const auto problems = problems_of("log:\n  level: warn\n");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("postgres.dsn: no connection string") != std::string::npos);
}

TEST_CASE("every problem names its key and line, all at once", "[daemon][config]") {
  const std::string yaml = R"(postgres:
  dsn: dbname=app
  slott: x
writer:
  pool_size: 0
  max_batch_rows: many
  max_batch_delay: 20 parsecs
metrics:
  listen: localhost
log:
  level: loud
stream_tables:
  - name: a.b.c
    query: SELECT 1
  - query: SELECT 2
  - name: t
    query: SELECT 3
    refresh_mode: sometimes
    schedule: every tuesday
  - name: T
    query: SELECT 4
)";
  const auto problems = problems_of(yaml);
  const std::vector<std::string> expected = {
      "test.yaml:3: postgres.slott: unknown key 'slott' (did you mean 'slot'?)",
      "test.yaml:5: writer.pool_size: must be between 1 and 64, got 0",
      "test.yaml:6: writer.max_batch_rows: must be an integer, got 'many'",
      "test.yaml:7: writer.max_batch_delay: must be a duration such as '20ms', '30s', '5m' or '1h30m', got "
      "'20 parsecs'",
      "test.yaml:9: metrics.listen: must be host:port (e.g. 127.0.0.1:9187), got 'localhost'",
      "test.yaml:11: log.level: must be one of trace, debug, info, warn, error; got 'loud'",
      "test.yaml:13: stream_tables[0].name: a name has at most two parts (schema.table): 'a.b.c'",
      "test.yaml:15: stream_tables[1]: missing key 'name' (the target table, e.g. analytics.totals)",
      "test.yaml:18: stream_tables[2].refresh_mode: must be DIFFERENTIAL or FULL; got 'sometimes'",
      "test.yaml:19: stream_tables[2].schedule: not a valid cron expression: a cron expression has 5 fields "
      "(minute hour day-of-month month day-of-week), got 2",
      "test.yaml:20: stream_tables[3].name: stream table public.t is declared twice (also at line 16)",
  };
  CHECK(problems == expected);
}

TEST_CASE("bad YAML and wrong shapes are reported with their line", "[daemon][config]") {
  CHECK(problems_of("postgres: [unclosed\n")[0].rfind("test.yaml:2: not valid YAML", 0) == 0);
  CHECK(problems_of("postgres: just a string\n", std::string("dbname=x"))[0] ==
        "test.yaml:1: postgres: must be a mapping of keys to values");
  CHECK(problems_of("postgres:\n  dsn: dbname=x\nstream_tables:\n  name: t\n")[0] ==
        "test.yaml:4: stream_tables: must be a list of stream tables (- name: ..., query: ...)");
  CHECK(problems_of("postgres:\n  dsn: dbname=x\n  slot: Has-Dash\n")[0] ==
        "test.yaml:3: postgres.slot: a replication slot name may contain only lower-case letters, digits and "
        "underscores");
  CHECK(problems_of("")[0].find("the file is empty") != std::string::npos);
  CHECK(problems_of("postgres:\n  dsn: dbname=x\nstream_tables:\n  - name: t\n    query: '  '\n")[0] ==
        "test.yaml:5: stream_tables[0].query: must not be empty");
}

TEST_CASE("a bad DSN is reported without its password", "[daemon][config]") {
  const auto problems = problems_of("postgres:\n  dsn: \"host=x password=s3cr3t bogus\"\n");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("postgres.dsn: not a valid libpq connection string") != std::string::npos);
  CHECK(problems[0].find("s3cr3t") == std::string::npos);
  const Config config = parse_config(kFull, "test.yaml", std::nullopt);
  CHECK(describe(config).find("s3cr3t") == std::string::npos);
  CHECK(describe(config).find("password=********") != std::string::npos);
}

TEST_CASE("qualified names follow PostgreSQL's identifier rules", "[daemon][config]") {
  std::string why;
  CHECK(parse_qualified_name("Analytics.Totals", why) == QualifiedName{"analytics", "totals"});
  CHECK(parse_qualified_name("\"A\"\"b\".\"c.d\"", why) == QualifiedName{"A\"b", "c.d"});
  CHECK(parse_qualified_name("_x$1", why) == QualifiedName{"public", "_x$1"});
  CHECK(parse_qualified_name("café", why) == QualifiedName{"public", "café"});
  for (const char* bad : {"", ".", "a.", ".a", "1abc", "\"unterminated", "a b", "a..b", "\"\""}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_qualified_name(bad, why).has_value());
    CHECK_FALSE(why.empty());
  }
  CHECK_FALSE(parse_qualified_name(std::string(64, 'x'), why).has_value());
  CHECK(parse_qualified_name(std::string(63, 'x'), why).has_value());
}

// docs/CONFIGURATION.md is checked against known_config_keys() by tests/docs.
TEST_CASE("every config key is in the example config's reference", "[daemon][config]") {
  const char* source_dir = std::getenv("PGSTREAM_SOURCE_DIR");
  REQUIRE(source_dir != nullptr);
  std::ifstream in(std::string(source_dir) + "/config/pgstream.example.yaml");
  std::stringstream text;
  text << in.rdbuf();
  for (const auto& key : known_config_keys()) {
    const std::string leaf = key.substr(key.rfind('.') + 1);
    CAPTURE(key);
    CHECK(std::regex_search(text.str(), std::regex("(^|\\n)\\s*-?\\s*" + leaf + ":")));
  }
}
