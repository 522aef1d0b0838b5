#include <catch2/catch.hpp>

#include <string_view>
#include <vector>

#include "pgstream/writer/copy_line.hpp"

using pgstream::writer::split_copy_fields;
using pgstream::writer::stable_hash;

TEST_CASE("split_copy_fields splits on raw tabs and keeps escapes", "[writer]") {
  std::vector<std::string_view> fields{"stale"};
  split_copy_fields("a\\tb\t\\N\t\tx\\\\", fields);
  REQUIRE(fields.size() == 4);
  CHECK(fields[0] == "a\\tb");
  CHECK(fields[1] == "\\N");
  CHECK(fields[2].empty());
  CHECK(fields[3] == "x\\\\");
  split_copy_fields("", fields);
  CHECK(fields == std::vector<std::string_view>{""});
}

TEST_CASE("stable_hash is FNV-1a 64 and never changes (it is stored in targets)", "[writer]") {
  // Published FNV-1a 64 test vectors.
  CHECK(static_cast<std::uint64_t>(stable_hash("")) == 0xcbf29ce484222325ULL);
  CHECK(static_cast<std::uint64_t>(stable_hash("a")) == 0xaf63dc4c8601ec8cULL);
  CHECK(static_cast<std::uint64_t>(stable_hash("foobar")) == 0x85944171f73967e8ULL);
  // Pinned: a change here corrupts every stored target.
  CHECK(static_cast<std::uint64_t>(stable_hash("1\tfoo\t\\N")) == 0xc4a8013c3d12569eULL);

  const std::string_view line = "1\tfoo\t\\N";
  std::vector<std::string_view> fields;
  split_copy_fields(line, fields);
  const std::vector<int> all{0, 1, 2};
  CHECK(stable_hash(fields, all) == stable_hash(line));
  const std::vector<int> key{2, 0};
  CHECK(stable_hash(fields, key) == stable_hash("\\N\t1"));
  CHECK(stable_hash(fields, std::vector<int>{1}) == stable_hash("foo"));
}
