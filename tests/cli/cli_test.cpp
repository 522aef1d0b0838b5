#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string_view>
#include <vector>

#include "pgstream/cli/cli.hpp"
#include "pgstream/common/version.hpp"

namespace {

struct Outcome {
  int code;
  std::string out;
  std::string err;
};

Outcome run_cli(std::vector<std::string_view> args) {
  std::ostringstream out;
  std::ostringstream err;
  const int code = pgstream::cli::run(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace

TEST_CASE("--version and --help answer and exit 0", "[cli]") {
  const auto version = run_cli({"--version"});
  CHECK(version.code == 0);
  CHECK(version.out.rfind(std::string("pgstream ") + pgstream::kVersion, 0) == 0);
  const auto help = run_cli({"--help"});
  CHECK(help.code == 0);
  CHECK(help.out.find("Usage:") != std::string::npos);
}

TEST_CASE("usage errors exit 1 with what to do", "[cli]") {
  const auto unknown = run_cli({"frobnicate"});
  CHECK(unknown.code == 1);
  CHECK(unknown.err.find("unknown command 'frobnicate'") != std::string::npos);
  CHECK(unknown.err.find("HINT: Run 'pgstream --help'") != std::string::npos);
  CHECK(run_cli({}).code == 1);
}

TEST_CASE("the pgstream binary runs and reports its version", "[cli][process]") {
  const char* binary = std::getenv("PGSTREAM_BINARY");
  REQUIRE(binary != nullptr);
  const std::string command = std::string(binary) + " --version";
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[256] = {};
  REQUIRE(std::fgets(buffer, sizeof buffer, pipe) != nullptr);
  const int status = pclose(pipe);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(std::string_view(buffer).rfind("pgstream ", 0) == 0);
}
