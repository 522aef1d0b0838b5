#include "pgstream/catalog/store.hpp"

#include <catch2/catch.hpp>

#include "pgstream/catalog/migrations.hpp"
#include "pgstream/common/error.hpp"
#include "support/pg_cluster.hpp"

using pgstream::Error;
using pgstream::ErrorKind;
using pgstream::PgConnection;
using pgstream::catalog::answer_request;
using pgstream::catalog::Dependency;
using pgstream::catalog::load_stream_tables;
using pgstream::catalog::migrate;
using pgstream::catalog::parse_request;
using pgstream::catalog::Request;
using pgstream::catalog::RequestState;
using pgstream::catalog::StreamTableDefinition;
using pgstream::catalog::upsert_stream_table;
using pgstream::testing::PgDatabase;

namespace {

// A catalog schema name that needs quoting in every way.
const std::string kOddSchema = "Cat \"Alog\"";

// Query text that JSON, YAML and SQL quoting all have an opinion about.
const std::string kTrickyQuery =
    "SELECT 'it''s' AS \"Quoted \"\"Col\"\"\", E'\\\\n' AS backslash, '\\' AS lone -- ünïcødé 😀 中文\n"
    "\tFROM t WHERE x = '{\"a\": [1, 2]}' AND y = '- not: yaml' AND z = '\x01' /* @S@ %s */";

// The request json_build_object makes, as the SQL API does.
std::string server_request(PgDatabase& db, const std::string& catalog, const std::string& op,
                           const std::string& name, const std::string& query) {
  PgConnection& conn = db.connection();
  return db.query_value("SELECT json_build_object('v', 1, 'id', gen_random_uuid(), 'catalog', " +
                        conn.quote_literal(catalog) + ", 'op', " + conn.quote_literal(op) + ", 'name', " +
                        conn.quote_literal(name) + ", 'query', " + conn.quote_literal(query) +
                        ", 'schedule', NULL, 'refresh_mode', 'FULL', 'initialize', false, 'status', NULL, "
                        "'role', current_user, 'pid', pg_backend_pid())::text");
}

Request request(const std::string& op, const std::string& name) {
  Request out;
  out.id = "6f1c1c9e-2b51-4a49-9f1e-0d5e6f7a8b9c";
  out.op = op;
  out.name = name;
  return out;
}

}  // namespace

TEST_CASE_METHOD(PgDatabase, "parse_request reads what the server's json_build_object writes",
                 "[catalog][pg]") {
  const std::string json = server_request(*this, kOddSchema, "create", "\"My \"\"T\"\"\".t", kTrickyQuery);
  const auto parsed = parse_request("pgstream", json, kOddSchema);
  REQUIRE(parsed.has_value());
  CHECK(parsed->op == "create");
  CHECK(parsed->name == "\"My \"\"T\"\"\".t");
  CHECK(parsed->query == kTrickyQuery);
  CHECK(parsed->catalog == kOddSchema);
  CHECK(parsed->id.size() == 36);
  CHECK_FALSE(parsed->schedule.has_value());
  CHECK(parsed->refresh_mode == std::optional<std::string>("FULL"));
  CHECK_FALSE(parsed->status.has_value());
  CHECK_FALSE(parsed->initialize);
  CHECK(parsed->role == query_value("SELECT current_user"));
  CHECK(std::to_string(parsed->pid) == query_value("SELECT pg_backend_pid()"));

  // Not ours: another prefix, another catalog.
  CHECK_FALSE(parse_request("pgstream.flush", "", kOddSchema).has_value());
  CHECK_FALSE(parse_request("other", json, kOddSchema).has_value());
  CHECK_FALSE(parse_request("pgstream", json, "pgstream").has_value());

  // Ours but unreadable.
  for (const std::string& bad :
       {std::string("{\"v\": 1, \"id\": "), std::string("[1, 2]"), std::string("not json at all"),
        std::string(R"({"v": 2, "id": "x", "catalog": "pgstream", "op": "create", "name": "t"})"),
        std::string(R"({"v": 1, "id": "x", "catalog": "pgstream", "op": "truncate", "name": "t"})"),
        std::string(R"({"v": 1, "catalog": "pgstream", "op": "drop", "name": "t"})"),
        std::string(R"({"v": 1, "id": "x", "catalog": "pgstream", "op": "drop", "name": ["t"]})")}) {
    CAPTURE(bad);
    try {
      (void)parse_request("pgstream", bad, "pgstream");
      FAIL("accepted");
    } catch (const Error& error) {
      CHECK(error.kind() == ErrorKind::Protocol);
    }
  }
}

TEST_CASE_METHOD(PgDatabase, "answer_request records the answer and forgets old ones", "[catalog][pg]") {
  PgConnection& conn = connection();
  (void)migrate(conn, kOddSchema);
  const std::string requests = conn.quote_identifier(kOddSchema) + ".pgs_requests";
  const Request create = request("create", "public.\"T\"");

  answer_request(conn, kOddSchema, create, RequestState::Received);
  CHECK(query_value("SELECT state || ':' || op || ':' || name || ':' || coalesce(sqlstate, '-') FROM " +
                    requests) == "RECEIVED:create:public.\"T\":-");

  const Error failure(ErrorKind::Database, "relation \"nope\" does not exist",
                      {.sqlstate = "42P01", .detail = "the detail", .hint = "the hint"});
  answer_request(conn, kOddSchema, create, RequestState::Failed, &failure);
  CHECK(query_value("SELECT concat_ws('|', state, sqlstate, message, detail, hint) FROM " + requests) ==
        "FAILED|42P01|relation \"nope\" does not exist|the detail|the hint");

  SECTION("an error without SQLSTATE gets one from its kind; empty parts are NULL") {
    const Error config(ErrorKind::Config, "bad schedule \"5 parsecs\"");
    answer_request(conn, kOddSchema, create, RequestState::Failed, &config);
    CHECK(query_value("SELECT concat_ws('|', sqlstate, message, detail IS NULL, hint IS NULL) FROM " +
                      requests) == "22023|bad schedule \"5 parsecs\"|t|t");
    const Error unsupported(ErrorKind::Unsupported, "recursive CTEs are not maintained");
    answer_request(conn, kOddSchema, create, RequestState::Failed, &unsupported);
    CHECK(query_value("SELECT sqlstate FROM " + requests) == "0A000");
    answer_request(conn, kOddSchema, create, RequestState::Failed, nullptr);
    CHECK(query_value("SELECT sqlstate FROM " + requests) == "XX000");
  }
  SECTION("answers older than an hour are deleted") {
    exec("UPDATE " + requests + " SET updated_at = now() - interval '2 hours'");
    Request old_received = request("drop", "public.x");
    old_received.id = "00000000-0000-0000-0000-000000000001";
    answer_request(conn, kOddSchema, old_received, RequestState::Received);
    exec("UPDATE " + requests + " SET updated_at = now() - interval '2 hours' WHERE name = 'public.x'");
    Request fresh = request("refresh", "public.y");
    fresh.id = "00000000-0000-0000-0000-000000000002";
    answer_request(conn, kOddSchema, fresh, RequestState::Done);
    // The old FAILED answer is gone; a RECEIVED one (still in progress) stays.
    CHECK(query_value("SELECT string_agg(name || ':' || state, ',' ORDER BY name) FROM " + requests) ==
          "public.x:RECEIVED,public.y:DONE");
  }
}

TEST_CASE_METHOD(PgDatabase, "stream table records round-trip in an oddly named catalog", "[catalog][pg]") {
  PgConnection& conn = connection();
  (void)migrate(conn, kOddSchema);
  const std::string tables = conn.quote_identifier(kOddSchema) + ".pgs_stream_tables";
  const std::string dependencies = conn.quote_identifier(kOddSchema) + ".pgs_dependencies";

  StreamTableDefinition definition{.schema = "Mixed \"Case\"",
                                   .name = "it's",
                                   .defining_query = kTrickyQuery,
                                   .original_query = "SELECT * FROM v",
                                   .schedule = "5s",
                                   .refresh_mode = "FULL",
                                   .source = "sql"};
  const std::int64_t id = upsert_stream_table(conn, kOddSchema, definition);
  const std::int64_t other = upsert_stream_table(
      conn, kOddSchema,
      {.schema = "public", .name = "plain", .defining_query = "SELECT 1", .original_query = "SELECT 1"});
  CHECK(other != id);

  auto records = load_stream_tables(conn, kOddSchema);
  REQUIRE(records.size() == 2);
  CHECK(records[0].pgs_id == id);
  CHECK(records[0].schema == "Mixed \"Case\"");
  CHECK(records[0].name == "it's");
  CHECK(records[0].defining_query == kTrickyQuery);
  CHECK(records[0].original_query == "SELECT * FROM v");
  CHECK(records[0].schedule == std::optional<std::string>("5s"));
  CHECK(records[0].refresh_mode == "FULL");
  CHECK(records[0].status == "INITIALIZING");
  CHECK(records[0].source == "sql");
  CHECK_FALSE(records[0].frontier_lsn.has_value());
  CHECK_FALSE(records[0].relid.has_value());
  CHECK_FALSE(records[0].is_populated);
  CHECK(records[1].schedule == std::nullopt);
  CHECK(records[1].refresh_mode == "DIFFERENTIAL");

  SECTION("an upsert of the same name changes the definition, keeping id and frontier") {
    exec("UPDATE " + tables +
         " SET frontier_lsn = '0/ABC', is_populated = true, status = 'ACTIVE' WHERE pgs_id = " +
         std::to_string(id));
    definition.defining_query = "SELECT 2";
    definition.schedule = std::nullopt;
    definition.source = "yaml";
    CHECK(upsert_stream_table(conn, kOddSchema, definition) == id);
    records = load_stream_tables(conn, kOddSchema);
    REQUIRE(records.size() == 2);
    CHECK(records[0].pgs_id == id);
    CHECK(records[0].defining_query == "SELECT 2");
    CHECK_FALSE(records[0].schedule.has_value());
    CHECK(records[0].source == "yaml");
    CHECK(records[0].frontier_lsn == std::optional<std::string>("0/ABC"));
    CHECK(records[0].is_populated);
    CHECK(records[0].status == "ACTIVE");
  }
  SECTION("status, errors, explain, relid") {
    pgstream::catalog::set_status(conn, kOddSchema, id, "ERROR", "division by zero", false);
    pgstream::catalog::set_status(conn, kOddSchema, id, "ERROR", "it's \"broken\" again", true);
    records = load_stream_tables(conn, kOddSchema);
    CHECK(records[0].status == "ERROR");
    CHECK(records[0].consecutive_errors == 2);
    CHECK(records[0].last_error == std::optional<std::string>("it's \"broken\" again"));
    CHECK(records[0].needs_reinit);
    CHECK(records[1].consecutive_errors == 0);

    pgstream::catalog::set_status(conn, kOddSchema, id, "SUSPENDED", std::nullopt, true);
    records = load_stream_tables(conn, kOddSchema);
    CHECK(records[0].consecutive_errors == 2);  // kept until the table is ACTIVE again
    pgstream::catalog::set_status(conn, kOddSchema, id, "ACTIVE", std::nullopt, false);
    records = load_stream_tables(conn, kOddSchema);
    CHECK(records[0].status == "ACTIVE");
    CHECK(records[0].consecutive_errors == 0);
    CHECK_FALSE(records[0].last_error.has_value());
    CHECK_FALSE(records[0].needs_reinit);

    CHECK_THROWS_AS(pgstream::catalog::set_status(conn, kOddSchema, id, "BOGUS", std::nullopt, false), Error);
    CHECK_THROWS_WITH(pgstream::catalog::set_status(conn, kOddSchema, 999999, "ACTIVE", std::nullopt, false),
                      Catch::Contains("no stream table with pgs_id 999999"));

    pgstream::catalog::set_explain(conn, kOddSchema, id, "Reduce\n  Join \"x\" 'y'");
    CHECK(query_value("SELECT " + conn.quote_identifier(kOddSchema) + ".explain_st(" +
                      conn.quote_literal("\"Mixed \"\"Case\"\"\".\"it's\"") + ")") ==
          "Reduce\n  Join \"x\" 'y'");
    pgstream::catalog::set_relid(conn, kOddSchema, id, 4000000000U);
    records = load_stream_tables(conn, kOddSchema);
    CHECK(records[0].relid == std::optional<Oid>(4000000000U));
  }
  SECTION("dependencies are replaced in one transaction") {
    pgstream::catalog::replace_dependencies(
        conn, kOddSchema, id,
        {Dependency{.oid = 100,
                    .schema = "s",
                    .name = "Orders",
                    .type = "TABLE",
                    .columns = {"id", "a,b", "q\"uo\\te", "{x}"}},
         Dependency{.oid = 200, .schema = "s", .name = "v", .type = "VIEW", .columns = {}}});
    const std::string listing =
        "SELECT string_agg(source_relid || ':' || source_name || ':' || source_type || ':' || "
        "array_to_string(columns_used, '|'), ',' ORDER BY source_relid) FROM " +
        dependencies + " WHERE pgs_id = " + std::to_string(id);
    CHECK(query_value(listing) == "100:Orders:TABLE:id|a,b|q\"uo\\te|{x},200:v:VIEW:");

    // A bad row rolls the whole replacement back.
    CHECK_THROWS_AS(pgstream::catalog::replace_dependencies(
                        conn, kOddSchema, id,
                        {Dependency{.oid = 300, .schema = "s", .name = "t", .type = "TABLE", .columns = {}},
                         Dependency{.oid = 400, .schema = "s", .name = "u", .type = "BOGUS", .columns = {}}}),
                    Error);
    CHECK(PQtransactionStatus(conn.get()) == PQTRANS_IDLE);
    CHECK(query_value(listing) == "100:Orders:TABLE:id|a,b|q\"uo\\te|{x},200:v:VIEW:");

    pgstream::catalog::replace_dependencies(
        conn, kOddSchema, id, {Dependency{.oid = 300, .schema = "s", .name = "t", .type = "STREAM_TABLE"}});
    CHECK(query_value(listing) == "300:t:STREAM_TABLE:");

    pgstream::catalog::delete_stream_table(conn, kOddSchema, id);
    CHECK(query_value("SELECT count(*) FROM " + dependencies) == "0");
    records = load_stream_tables(conn, kOddSchema);
    REQUIRE(records.size() == 1);
    CHECK(records[0].pgs_id == other);
  }
}
