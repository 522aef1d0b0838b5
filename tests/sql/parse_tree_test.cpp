#include <catch2/catch.hpp>

#include "pgstream/sql/parse_tree.hpp"

using pgstream::sql::ParseTree;
using pgstream::sql::position_of;

TEST_CASE("position_of turns byte offsets into line:column counting characters", "[sql]") {
  const std::string text = "SELECT 1\nFROM t\nWHERE x = 'é' AND y";
  CHECK(position_of(text, 0).line == 1);
  CHECK(position_of(text, 0).column == 1);
  CHECK(position_of(text, 9).line == 2);
  CHECK(position_of(text, 9).column == 1);
  const int y = static_cast<int>(text.rfind('y'));
  CHECK(position_of(text, y).line == 3);
  CHECK(position_of(text, y).column == 19);  // 'é' is two bytes, one column
  CHECK(position_of(text, -1).line == 0);
  CHECK(pgstream::sql::describe_position(position_of(text, 9)) == "line 2, column 1");
}

TEST_CASE("ParseTree parses one statement and owns the protobuf tree", "[sql]") {
  const ParseTree tree = ParseTree::parse("SELECT a, b FROM t WHERE a > 1");
  REQUIRE(tree.result().n_stmts == 1);
  CHECK(tree.single_statement().node_case == PG_QUERY__NODE__NODE_SELECT_STMT);
  const ParseTree moved = ParseTree::parse("SELECT 1");
  CHECK(moved.text() == "SELECT 1");
}

TEST_CASE("syntax errors carry PostgreSQL's message and line:column", "[sql]") {
  try {
    (void)ParseTree::parse("SELECT a\nFROM t\nWHERE a >");
    FAIL("parsed");
  } catch (const pgstream::Error& error) {
    CHECK(error.kind() == pgstream::ErrorKind::Config);
    CHECK(error.message() == "syntax error at end of input (line 3, column 10)");
  }
  try {
    (void)ParseTree::parse("SELECT * FORM t");
    FAIL("parsed");
  } catch (const pgstream::Error& error) {
    CHECK(error.message() == "syntax error at or near \"FORM\" (line 1, column 10)");
  }
}

TEST_CASE("several statements are rejected with the position of the second", "[sql]") {
  const ParseTree tree = ParseTree::parse("SELECT 1;\nSELECT 2");
  try {
    (void)tree.single_statement();
    FAIL("accepted");
  } catch (const pgstream::Error& error) {
    CHECK(error.kind() == pgstream::ErrorKind::Unsupported);
    CHECK(error.message() == "a query text with 2 statements is not supported (line 1, column 10)");
  }
}
