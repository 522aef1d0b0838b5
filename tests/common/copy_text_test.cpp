#include "pgstream/common/copy_text.hpp"

#include <catch2/catch.hpp>
#include <random>

namespace {

std::string line_of(const std::vector<std::optional<std::string>>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) line += '\t';
    if (fields[i]) {
      pgstream::append_copy_field(line, *fields[i]);
    } else {
      pgstream::append_copy_null(line);
    }
  }
  return line;
}

}  // namespace

TEST_CASE("COPY text fields survive escaping and splitting", "[copy_text]") {
  std::vector<std::optional<std::string>> fields = {
      std::string("plain"),       std::nullopt,    std::string("tab\there"), std::string("back\\slash"),
      std::string("new\nline\r"), std::string(""), std::string("\\N"),       std::string("é ✓")};
  std::vector<std::optional<std::string>> back;
  pgstream::split_copy_line(line_of(fields), back);
  CHECK(back == fields);

  // The server's other escapes (octal, hex, \b \f \v) are read too.
  pgstream::split_copy_line("\\101\\x42\\b\\f\\v\tx", back);
  REQUIRE(back.size() == 2);
  CHECK(*back[0] == "AB\b\f\v");

  std::mt19937 rng(7);
  for (int round = 0; round < 500; ++round) {
    fields.assign(1 + rng() % 5, std::nullopt);
    for (auto& field : fields) {
      if (rng() % 4 == 0) continue;
      std::string value;
      for (unsigned n = rng() % 8; n > 0; --n) value += "a\t\\\nN\r"[rng() % 6];
      field = value;
    }
    pgstream::split_copy_line(line_of(fields), back);
    REQUIRE(back == fields);
  }
}
