// Logging setup: the one place that configures spdlog for the whole process.
//
// Every module logs through spdlog's default logger (spdlog::info(...), ...).
// configure_logging() may be called again (e.g. on SIGHUP) and is thread-safe
// in the way spdlog is: it replaces the default logger atomically.
// Nothing that could hold a secret (a DSN, a password) is logged unredacted:
// pass DSNs through redact_conninfo() first (pgstream/common/pg.hpp).
#pragma once

#include <optional>
#include <string_view>

namespace pgstream {

enum class LogLevel { Trace, Debug, Info, Warn, Error };
enum class LogFormat { Text, Json };

struct LogConfig {
  LogLevel level = LogLevel::Info;
  LogFormat format = LogFormat::Text;
};

[[nodiscard]] std::optional<LogLevel> parse_log_level(std::string_view text) noexcept;
[[nodiscard]] std::optional<LogFormat> parse_log_format(std::string_view text) noexcept;

// Logs go to stderr: text as "2026-11-25T18:57:27.123Z info    message", JSON
// as one object per line with ts, level, logger and msg (msg JSON-escaped).
void configure_logging(const LogConfig& config);

}  // namespace pgstream
