// The daemon's configuration: the YAML file of SPEC §3, loaded and validated
// before anything connects.
//
// Contract: load_config() either returns a complete Config, every value
// checked, defaults filled in, or throws Error{Config} whose message lists one
// line per problem, each naming the key and its line in the file
// ("pgstream.yaml:12: writer.pool_size: must be between 1 and 64, got 0").
// Unknown keys, wrong types and impossible values are all problems; all of
// them are reported at once. The DSN is a secret: describe() and every error
// message show it only through redact_conninfo().
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgstream/common/logging.hpp"
#include "pgstream/daemon/schedule.hpp"

namespace pgstream::daemon {

// A schema-qualified name as PostgreSQL resolves it: unquoted parts fold to
// lower case, quoted parts are kept exactly; an unqualified name is in public.
struct QualifiedName {
  std::string schema;
  std::string name;
  bool operator==(const QualifiedName&) const = default;
};

// Parses `analytics.totals`, `"My Schema"."Totals"`, `totals`. nullopt with a
// reason in `why` when the text is not one or two valid identifiers.
[[nodiscard]] std::optional<QualifiedName> parse_qualified_name(std::string_view text, std::string& why);

enum class RefreshMode { Differential, Full };
[[nodiscard]] std::string_view to_string(RefreshMode mode) noexcept;

struct StreamTableConfig {
  QualifiedName name;
  std::string query;
  RefreshMode refresh_mode = RefreshMode::Differential;
  Schedule schedule;  // continuous unless set
  int line = 0;       // where it was declared, for messages
};

struct Config {
  struct Postgres {
    std::string dsn;  // a secret: show only redact_conninfo(dsn)
    std::string slot = "pgstream";
    std::string publication = "pgstream";
    std::string catalog_schema = "pgstream";
  } postgres;
  struct Writer {
    int pool_size = 4;
    std::int64_t max_batch_rows = 50000;
    std::chrono::milliseconds max_batch_delay{20};
  } writer;
  struct Metrics {
    std::string listen_host = "127.0.0.1";
    std::uint16_t listen_port = 9187;
    std::chrono::milliseconds ready_max_lag{10000};
  } metrics;
  LogConfig log;
  std::vector<StreamTableConfig> stream_tables;
};

// Loads `path`. `dsn_override` (the PGSTREAM_DSN environment variable, when
// set and not empty) replaces postgres.dsn; one of the two is required.
[[nodiscard]] Config load_config(const std::filesystem::path& path, std::optional<std::string> dsn_override);

// The same from text; `origin` names it in messages (a file name).
[[nodiscard]] Config parse_config(std::string_view yaml, std::string_view origin,
                                  std::optional<std::string> dsn_override);

// The value of PGSTREAM_DSN, if set and not empty.
[[nodiscard]] std::optional<std::string> dsn_from_environment();

// A human-readable summary of the effective configuration, DSN redacted.
[[nodiscard]] std::string describe(const Config& config);

// Every key the file may contain, as dotted paths ("writer.pool_size",
// "stream_tables[].query"): the documentation is checked against this list.
[[nodiscard]] std::vector<std::string> known_config_keys();

}  // namespace pgstream::daemon
