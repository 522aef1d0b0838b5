#include "pgstream/cli/cli.hpp"

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/common/logging.hpp"
#include "pgstream/common/pg.hpp"
#include "pgstream/common/version.hpp"
#include "pgstream/daemon/config.hpp"
#include "pgstream/daemon/daemon.hpp"
#include "pgstream/daemon/stream_table.hpp"
#include "pgstream/demo/demo.hpp"
#include "pgstream/replication/row_conversion.hpp"
#include "pgstream/sql/collation.hpp"

namespace pgstream::cli {

namespace {

constexpr std::string_view kUsage =
    "pgstream - incremental view maintenance for PostgreSQL\n"
    "\n"
    "Usage:\n"
    "  pgstream run --config FILE             run the daemon (SIGTERM stops, SIGHUP reloads)\n"
    "  pgstream check --config FILE           check the config and every query; print the plans\n"
    "  pgstream status --config FILE [--json] one line per stream table\n"
    "  pgstream demo [--seconds N]            a live demo on a throwaway local PostgreSQL 15\n"
    "  pgstream --help                        show this help\n"
    "  pgstream --version                     show the version\n"
    "\n"
    "The DSN may come from PGSTREAM_DSN instead of postgres.dsn.\n"
    "Exit codes: 0 ok, 1 user error (bad config, unsupported query), 2 runtime failure.\n"
    "\n"
    "pgstream keeps SQL query results (stream tables) up to date from PostgreSQL's\n"
    "logical replication stream. See README.md and docs/ for the full picture.\n";

int print_version(std::ostream& out) {
  out << "pgstream " << kVersion << " (" << kBuildType << ")\n";
  return 0;
}

struct CommandOptions {
  std::string config;
  bool json = false;
};

CommandOptions parse_options(std::string_view command, std::span<const std::string_view> args) {
  CommandOptions options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (arg == "--config" || arg == "-c") {
      if (i + 1 >= args.size()) throw Error(ErrorKind::Usage, "--config needs a file name");
      options.config = std::string(args[++i]);
    } else if (arg.rfind("--config=", 0) == 0) {
      options.config = std::string(arg.substr(9));
    } else if (arg == "--json" && command == "status") {
      options.json = true;
    } else {
      throw Error(ErrorKind::Usage,
                  "unknown option '" + std::string(arg) + "' for '" + std::string(command) + "'",
                  {.hint = "Run 'pgstream --help'."});
    }
  }
  if (options.config.empty()) {
    throw Error(
        ErrorKind::Usage, "'" + std::string(command) + "' needs --config FILE",
        {.hint = "For example: pgstream " + std::string(command) + " --config /etc/pgstream/pgstream.yaml"});
  }
  return options;
}

daemon::Config load(const CommandOptions& options) {
  return daemon::load_config(options.config, daemon::dsn_from_environment());
}

int run_command(const CommandOptions& options) {
  daemon::Config config = load(options);
  configure_logging(config.log);
  spdlog::info("pgstream {} starting\n{}", kVersion, daemon::describe(config));
  return daemon::run_daemon(options.config, std::move(config));
}

// Compiles and lowers every stream table against the live database, as
// `run` would, and prints the plans; changes nothing.
// The stream table of `config` that `error` says does not exist (42P01):
// on a fresh database the target of an upstream is created by `run` only.
std::optional<std::string> declared_upstream(const Error& error, const daemon::Config& config) {
  if (error.sqlstate() != "42P01") return std::nullopt;
  const std::string& message = error.message();
  const std::string lead = "relation \"";
  const auto from = message.find(lead);
  if (from == std::string::npos) return std::nullopt;
  const auto to = message.find('"', from + lead.size());
  if (to == std::string::npos) return std::nullopt;
  const std::string missing = message.substr(from + lead.size(), to - from - lead.size());
  for (const auto& declared : config.stream_tables) {
    const std::string qualified = declared.name.schema + "." + declared.name.name;
    if (missing == qualified || (declared.name.schema == "public" && missing == declared.name.name)) {
      return qualified;
    }
  }
  return std::nullopt;
}

int check_command(const CommandOptions& options, std::ostream& out) {
  const daemon::Config config = load(options);
  PgConnection connection(config.postgres.dsn);
  PgConnection evaluation(config.postgres.dsn);
  std::shared_ptr<const engine::Collation> collation;
  std::vector<std::string> problems;
  try {
    collation = sql::database_collation(connection);
  } catch (const Error& error) {
    problems.push_back("database collation: " + error.describe());
  }
  daemon::BuildContext context;
  context.catalog_schema = config.postgres.catalog_schema;
  context.collation = collation.get();
  context.evaluation = &evaluation;
  context.types = std::make_shared<replication::TypeMap>(replication::TypeMap::load(connection));
  for (const auto& declared : config.stream_tables) {
    daemon::StreamTableDefinition definition;
    definition.name = declared.name;
    definition.query = declared.query;
    definition.refresh_mode = declared.refresh_mode;
    definition.schedule = declared.schedule;
    definition.line = declared.line;
    daemon::StreamTable table(definition);
    const std::string where =
        options.config + ":" + std::to_string(declared.line) + ": stream table " + table.display_name();
    try {
      table.build(connection, context);
      out << "== " << table.display_name() << " (" << daemon::to_string(declared.refresh_mode) << ", "
          << (table.target().key.empty() ? "keyless" : "keyed") << ")\n"
          << table.explain_text() << "\n";
    } catch (const Error& error) {
      if (PQtransactionStatus(connection.get()) != PQTRANS_IDLE) connection.exec("ROLLBACK");
      if (const auto upstream = declared_upstream(error, config); upstream) {
        out << "== " << table.display_name() << " (" << daemon::to_string(declared.refresh_mode)
            << ")\nreads stream table " << *upstream
            << ", which pgstream creates when it starts: run check again then for this table's plan\n";
        continue;
      }
      problems.push_back(where + ": " + error.describe());
    }
  }
  for (const auto& problem : problems) out << "problem: " << problem << "\n";
  out << (problems.empty() ? "ok: " : "failed: ") << config.stream_tables.size() << " stream table(s), "
      << problems.size() << " problem(s)\n";
  return problems.empty() ? 0 : 1;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(ch));
          out += buffer;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

int status_command(const CommandOptions& options, std::ostream& out) {
  const daemon::Config config = load(options);
  PgConnection connection(config.postgres.dsn);
  const std::string schema = connection.quote_identifier(config.postgres.catalog_schema);
  PgResult result = connection.exec(
      "SELECT format('%I.%I', t.pgs_schema, t.pgs_name), t.status, t.refresh_mode, "
      "coalesce((SELECT c.reltuples::bigint FROM pg_catalog.pg_class c "
      "          WHERE c.oid = to_regclass(format('%I.%I', t.pgs_schema, t.pgs_name))), -1), "
      "coalesce(t.frontier_lsn::text, ''), "
      "coalesce(CASE WHEN t.frontier_lsn IS NULL OR pg_is_in_recovery() THEN NULL "
      "              ELSE greatest(pg_current_wal_lsn() - t.frontier_lsn, 0) END::text, ''), "
      "coalesce(round(extract(epoch FROM now() - t.data_timestamp)::numeric, 3)::text, ''), "
      "t.consecutive_errors, coalesce(t.last_error, '') "
      "FROM " +
      schema + ".pgs_stream_tables t ORDER BY t.pgs_schema, t.pgs_name");
  const int rows = PQntuples(result.get());
  auto value = [&](int row, int column) { return std::string(PQgetvalue(result.get(), row, column)); };
  if (options.json) {
    out << "[";
    for (int row = 0; row < rows; ++row) {
      out << (row == 0 ? "" : ",") << "\n  {\"name\":" << json_string(value(row, 0))
          << ",\"status\":" << json_string(value(row, 1))
          << ",\"refresh_mode\":" << json_string(value(row, 2)) << ",\"rows\":" << value(row, 3)
          << ",\"frontier_lsn\":" << (value(row, 4).empty() ? "null" : json_string(value(row, 4)))
          << ",\"lag_bytes\":" << (value(row, 5).empty() ? "null" : value(row, 5))
          << ",\"lag_seconds\":" << (value(row, 6).empty() ? "null" : value(row, 6))
          << ",\"consecutive_errors\":" << value(row, 7)
          << ",\"last_error\":" << (value(row, 8).empty() ? "null" : json_string(value(row, 8))) << "}";
    }
    out << (rows == 0 ? "]\n" : "\n]\n");
    return 0;
  }
  char line[512];
  std::snprintf(line, sizeof line, "%-32s %-12s %-12s %10s %-14s %12s %10s  %s\n", "stream table", "status",
                "mode", "rows", "frontier", "lag bytes", "lag s", "last error");
  out << line;
  for (int row = 0; row < rows; ++row) {
    std::string error = value(row, 8);
    if (const auto newline = error.find('\n'); newline != std::string::npos) error.resize(newline);
    std::snprintf(line, sizeof line, "%-32s %-12s %-12s %10s %-14s %12s %10s  %s\n", value(row, 0).c_str(),
                  value(row, 1).c_str(), value(row, 2).c_str(),
                  value(row, 3) == "-1" ? "?" : value(row, 3).c_str(), value(row, 4).c_str(),
                  value(row, 5).c_str(), value(row, 6).c_str(), error.c_str());
    out << line;
  }
  if (rows == 0) out << "(no stream tables)\n";
  return 0;
}

// `pgstream demo [--seconds N]`: stdout is the demo's screen (redrawn in
// place on a terminal).
int demo_command(std::span<const std::string_view> args, std::ostream& out) {
  demo::DemoOptions options;
  options.terminal = &out == &std::cout && isatty(STDOUT_FILENO) != 0;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string_view value;
    if (args[i] == "--seconds") {
      if (i + 1 >= args.size()) throw Error(ErrorKind::Usage, "--seconds needs a number of seconds");
      value = args[++i];
    } else if (args[i].rfind("--seconds=", 0) == 0) {
      value = args[i].substr(10);
    } else {
      throw Error(ErrorKind::Usage, "unknown option '" + std::string(args[i]) + "' for 'demo'",
                  {.hint = "Run 'pgstream --help'."});
    }
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), options.seconds);
    if (error != std::errc{} || end != value.data() + value.size() || options.seconds < 1) {
      throw Error(ErrorKind::Usage, "--seconds must be a whole number of seconds, at least 1; got '" +
                                        std::string(value) + "'");
    }
  }
  return demo::run_demo(options, out);
}

int dispatch(std::span<const std::string_view> args, std::ostream& out) {
  if (args.empty()) throw Error(ErrorKind::Usage, "no command given", {.hint = "Run 'pgstream --help'."});
  const std::string_view command = args.front();
  if (command == "--help" || command == "-h" || command == "help") {
    out << kUsage;
    return 0;
  }
  if (command == "--version" || command == "-V" || command == "version") return print_version(out);
  if (command == "demo") return demo_command(args.subspan(1), out);
  if (command == "run" || command == "check" || command == "status") {
    const CommandOptions options = parse_options(command, args.subspan(1));
    if (command == "run") return run_command(options);
    if (command == "check") return check_command(options, out);
    return status_command(options, out);
  }
  throw Error(ErrorKind::Usage, "unknown command '" + std::string(command) + "'",
              {.hint = "Run 'pgstream --help' for the commands this version has."});
}

}  // namespace

int run(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  try {
    return dispatch(args, out);
  } catch (const Error& error) {
    err << "pgstream: " << to_string(error.kind()) << " error: " << error.describe() << '\n';
    return exit_code(error.kind());
  } catch (const std::exception& error) {
    err << "pgstream: internal error: " << error.what() << '\n';
    return 2;
  }
}

int main(int argc, char** argv) {
  configure_logging({});
  std::vector<std::string_view> args(argv + 1, argv + argc);
  return run(args, std::cout, std::cerr);
}

}  // namespace pgstream::cli
