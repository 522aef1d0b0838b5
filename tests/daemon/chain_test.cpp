// Chained stream tables at the StreamTable level: a scan of another stream
// table's target becomes a chained source (no SourceFeed), link() maps its
// columns by name onto the upstream's output and checks their types, and
// push() stages the upstream's output delta (weights included) for the
// downstream's next step.
#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "pgstream/catalog/migrations.hpp"
#include "pgstream/common/error.hpp"
#include "pgstream/daemon/stream_table.hpp"
#include "pgstream/writer/target.hpp"
#include "support/pg_cluster.hpp"

using pgstream::daemon::BuildContext;
using pgstream::daemon::StreamTable;
using pgstream::daemon::StreamTableDefinition;
using pgstream::testing::PgDatabase;

namespace {

std::unique_ptr<StreamTable> built(PgDatabase& db, const BuildContext& context, const std::string& name,
                                   const std::string& query) {
  StreamTableDefinition definition;
  definition.name = {"public", name};
  definition.query = query;
  auto table = std::make_unique<StreamTable>(definition);
  table->build(db.connection(), context);
  return table;
}

// Creates the target of `upstream` (public.up) and records it in the
// catalog as a stream table, as the daemon does; returns the target's oid.
std::uint32_t register_upstream(PgDatabase& db, const StreamTable& upstream) {
  (void)pgstream::writer::create_target(db.connection(), upstream.target());
  const std::string oid = db.query_value("SELECT 'public.up'::regclass::oid");
  db.exec(
      "INSERT INTO pgstream.pgs_stream_tables (pgs_relid, pgs_schema, pgs_name, defining_query, "
      "original_query, source) VALUES (" +
      oid + ", 'public', 'up', 'q', 'q', 'sql')");
  return static_cast<std::uint32_t>(std::stoul(oid));
}

std::vector<std::string> sorted_lines(const std::vector<pgstream::writer::DeltaRow>& rows) {
  std::vector<std::string> lines;
  lines.reserve(rows.size());
  for (const auto& row : rows) lines.push_back(row.line + " " + std::to_string(row.weight));
  std::sort(lines.begin(), lines.end());
  return lines;
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "a chained source is linked by column name and fed the upstream's delta",
                 "[daemon][pg][chain]") {
  exec(
      "CREATE TABLE o (id int PRIMARY KEY, c int, amount numeric); "
      "INSERT INTO o VALUES (1, 1, 2.5), (2, 1, 1), (3, 2, 4), (4, NULL, 7)");
  (void)pgstream::catalog::migrate(connection(), "pgstream");
  BuildContext context;
  context.types =
      std::make_shared<pgstream::replication::TypeMap>(pgstream::replication::TypeMap::load(connection()));

  auto upstream = built(*this, context, "up", "SELECT c, count(*) AS n, sum(amount) AS s FROM o GROUP BY c");
  REQUIRE(upstream->chained().empty());
  const std::uint32_t target_oid = register_upstream(*this, *upstream);

  // The columns in another order than the upstream's output, one skipped.
  auto downstream = built(*this, context, "down", "SELECT s, c FROM up WHERE n > 1");
  REQUIRE(downstream->chained().size() == 1);
  CHECK(downstream->feeds().empty());
  CHECK(downstream->chained()[0].lowered.relation->oid == target_oid);

  for (auto& feed : upstream->feeds()) {
    REQUIRE(feed->snapshot_columns() == std::vector<std::string>{"id", "c", "amount"});
    for (const char* line : {"1\t1\t2.5", "2\t1\t1", "3\t2\t4", "4\t\\N\t7"})
      upstream->load_line(*feed, line);
  }
  CHECK(sorted_lines(upstream->step()) ==
        std::vector<std::string>{"1\t2\t3.5 1", "2\t1\t4 1", "\\N\t1\t7 1"});
  CHECK_THROWS_AS(downstream->push(target_oid, upstream->output_delta()), pgstream::Error);  // not linked
  downstream->link(target_oid, *upstream);
  CHECK(downstream->chained()[0].linked);
  downstream->push(target_oid, upstream->output_delta());
  CHECK(downstream->pending());
  CHECK(sorted_lines(downstream->step()) == std::vector<std::string>{"3.5\t1 1"});

  // Weights pass through: the upstream's result retracted empties the downstream.
  pgstream::engine::ZSet retract;
  retract.add_all(upstream->output_delta(), -1);
  downstream->push(target_oid, retract);
  CHECK(sorted_lines(downstream->step()) == std::vector<std::string>{"3.5\t1 -1"});
  // Another relation's delta is not its concern.
  downstream->push(target_oid + 1, upstream->output_delta());
  CHECK(downstream->step().empty());
}

TEST_CASE_METHOD(PgDatabase, "linking refuses internal, missing and retyped columns", "[daemon][pg][chain]") {
  exec("CREATE TABLE o (id int PRIMARY KEY, c int, amount numeric)");
  (void)pgstream::catalog::migrate(connection(), "pgstream");
  BuildContext context;
  context.types =
      std::make_shared<pgstream::replication::TypeMap>(pgstream::replication::TypeMap::load(connection()));
  auto upstream = built(*this, context, "up", "SELECT c, count(*) AS n FROM o GROUP BY c");
  const std::uint32_t target_oid = register_upstream(*this, *upstream);

  auto internal = built(*this, context, "d1", "SELECT c, __pgs_hash AS h FROM up");
  try {
    internal->link(target_oid, *upstream);
    FAIL("an internal column was linked");
  } catch (const pgstream::Error& error) {
    CHECK(error.kind() == pgstream::ErrorKind::Unsupported);
    CHECK(error.message().find("internal to pg_stream") != std::string::npos);
  }

  auto reader = built(*this, context, "d2", "SELECT c, n FROM up");
  // The upstream's query changed: n is gone, or computed with another type.
  auto without_n = built(*this, context, "up", "SELECT c, count(*) AS m FROM o GROUP BY c");
  CHECK_THROWS_WITH(reader->link(target_oid, *without_n), Catch::Contains("no longer outputs"));
  auto retyped = built(*this, context, "up", "SELECT c, count(*)::int AS n FROM o GROUP BY c");
  CHECK_THROWS_WITH(reader->link(target_oid, *retyped),
                    Catch::Contains("is not the type the upstream computes"));
  CHECK_NOTHROW(reader->link(target_oid, *upstream));
}
