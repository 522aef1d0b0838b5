#include "pgstream/cli/cli.hpp"

#include <spdlog/spdlog.h>

#include <iostream>
#include <string>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/common/logging.hpp"
#include "pgstream/common/version.hpp"

namespace pgstream::cli {

namespace {

constexpr std::string_view kUsage =
    "pgstream - incremental view maintenance for PostgreSQL\n"
    "\n"
    "Usage:\n"
    "  pgstream --help       show this help\n"
    "  pgstream --version    show the version\n"
    "\n"
    "pgstream keeps SQL query results (stream tables) up to date from PostgreSQL's\n"
    "logical replication stream. See README.md and docs/ for the full picture.\n";

int print_version(std::ostream& out) {
  out << "pgstream " << kVersion << " (" << kBuildType << ")\n";
  return 0;
}

int dispatch(std::span<const std::string_view> args, std::ostream& out) {
  if (args.empty()) throw Error(ErrorKind::Usage, "no command given", {.hint = "Run 'pgstream --help'."});
  const std::string_view command = args.front();
  if (command == "--help" || command == "-h" || command == "help") {
    out << kUsage;
    return 0;
  }
  if (command == "--version" || command == "-V" || command == "version") return print_version(out);
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
