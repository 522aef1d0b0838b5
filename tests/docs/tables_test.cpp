// The reference docs' tables are what the other tests read: a row with a
// cell too many or too few (an unescaped '|' inside a code span) would make
// them skip the row silently, so every row must be as wide as its header.
#include <catch2/catch.hpp>

#include "doc_table.hpp"

TEST_CASE("every row of the reference docs' tables is as wide as its header", "[docs]") {
  for (const char* doc : {"docs/CONFIGURATION.md", "docs/SQL_SUPPORT.md", "docs/TROUBLESHOOTING.md"}) {
    const auto rows = pgstream::testing::table_rows(
        pgstream::testing::read_file_text(pgstream::testing::source_dir() / doc));
    REQUIRE_FALSE(rows.empty());
    std::size_t width = 0;
    int previous_line = -1;
    for (const auto& row : rows) {
      // The separator row (|---|) is left out by table_rows(): a header is
      // two lines after the previous table's end.
      if (row.line > previous_line + 2) width = row.cells.size();
      INFO(doc << ":" << row.line << " has " << row.cells.size() << " cells, its table " << width);
      CHECK(row.cells.size() == width);
      previous_line = row.line;
    }
  }
}
