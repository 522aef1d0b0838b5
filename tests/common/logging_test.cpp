#include <spdlog/spdlog.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "pgstream/common/logging.hpp"

using pgstream::LogFormat;
using pgstream::LogLevel;

namespace {

// Runs `log` with stderr redirected to a temp file and returns what it wrote.
template <typename F>
std::string capture_stderr(F&& log) {
  char path[] = "/tmp/pgstream-log-XXXXXX";
  const int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  log();
  spdlog::default_logger()->flush();
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  std::remove(path);
  return text.str();
}

}  // namespace

TEST_CASE("log levels and formats parse from their config names", "[common][logging]") {
  CHECK(pgstream::parse_log_level("trace") == LogLevel::Trace);
  CHECK(pgstream::parse_log_level("error") == LogLevel::Error);
  CHECK_FALSE(pgstream::parse_log_level("verbose").has_value());
  CHECK(pgstream::parse_log_format("json") == LogFormat::Json);
  CHECK_FALSE(pgstream::parse_log_format("xml").has_value());
}

TEST_CASE("JSON logs are one valid object per line, with the message escaped", "[common][logging]") {
  pgstream::configure_logging({.level = LogLevel::Info, .format = LogFormat::Json});
  const std::string out = capture_stderr([] { spdlog::info("slot \"pgstream\"\tat\n0/16B\x01"); });
  CHECK(out.find(R"("level":"info")") != std::string::npos);
  CHECK(out.find(R"("msg":"slot \"pgstream\"\tat\n0/16B\u0001"})") != std::string::npos);
  CHECK(std::count(out.begin(), out.end(), '\n') == 1);
  pgstream::configure_logging({});
}

TEST_CASE("the configured level filters lower levels", "[common][logging]") {
  pgstream::configure_logging({.level = LogLevel::Warn, .format = LogFormat::Text});
  const std::string out = capture_stderr([] {
    spdlog::info("hidden line");
    spdlog::warn("shown line");
  });
  CHECK(out.find("hidden line") == std::string::npos);
  CHECK(out.find("warning shown line") != std::string::npos);
  pgstream::configure_logging({});
}
