// The SQL API (migration 2) against a real server: argument checks, the wait
// for the daemon, and a fake daemon that reads the requests from a
// test_decoding slot and answers through catalog::answer_request.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "pgstream/catalog/migrations.hpp"
#include "pgstream/catalog/store.hpp"
#include "pgstream/common/error.hpp"
#include "support/pg_cluster.hpp"

using pgstream::Error;
using pgstream::PgConnection;
using pgstream::PgResult;
using pgstream::catalog::answer_request;
using pgstream::catalog::catalog_version;
using pgstream::catalog::kCatalogVersion;
using pgstream::catalog::migrate;
using pgstream::catalog::Request;
using pgstream::catalog::RequestState;
using pgstream::testing::PgDatabase;

namespace {

using Clock = std::chrono::steady_clock;

// The SQLSTATE of the error `sql` raises ("" if it succeeds).
std::string sqlstate_of(PgDatabase& db, const std::string& sql) {
  try {
    db.exec(sql);
  } catch (const Error& error) {
    return error.sqlstate();
  }
  return "";
}

// Answers every request of `schema` read from a test_decoding slot, as the
// daemon would: RECEIVED, then FAILED for names containing "bad", else DONE
// (recording created tables so that alter/drop/refresh find them); names
// containing "slow" stay RECEIVED.
class FakeDaemon {
 public:
  FakeDaemon(PgDatabase& db, std::string schema) : schema_(std::move(schema)), conn_(db.conninfo()) {
    (void)conn_.exec("SELECT pg_create_logical_replication_slot('fake_daemon', 'test_decoding')");
    thread_ = std::thread([this] { run(); });
  }
  FakeDaemon(const FakeDaemon&) = delete;
  FakeDaemon& operator=(const FakeDaemon&) = delete;
  ~FakeDaemon() {
    stop_ = true;
    thread_.join();
  }

  std::vector<Request> requests() {
    const std::lock_guard lock(mutex_);
    return requests_;
  }
  std::string failure() {
    const std::lock_guard lock(mutex_);
    return failure_;
  }

 private:
  void run() {
    try {
      while (!stop_) {
        pgstream::catalog::nudge_wal_flush(conn_);
        const PgResult changes =
            conn_.exec("SELECT data FROM pg_logical_slot_get_changes('fake_daemon', NULL, NULL)");
        for (int row = 0; row < PQntuples(changes.get()); ++row) handle(PQgetvalue(changes.get(), row, 0));
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    } catch (const std::exception& error) {
      const std::lock_guard lock(mutex_);
      failure_ = error.what();
    }
  }

  // "message: transactional: 0 prefix: pgstream, sz: 42 content:{...}"
  void handle(std::string_view line) {
    constexpr std::string_view kStart = "message: transactional: 0 prefix: ";
    if (line.substr(0, kStart.size()) != kStart) return;
    const auto prefix_end = line.find(", sz: ");
    const auto content_at = line.find("content:");
    const auto request = pgstream::catalog::parse_request(
        line.substr(kStart.size(), prefix_end - kStart.size()), line.substr(content_at + 8), schema_);
    if (!request) return;
    {
      const std::lock_guard lock(mutex_);
      requests_.push_back(*request);
    }
    answer_request(conn_, schema_, *request, RequestState::Received);
    if (request->name.find("slow") != std::string::npos) return;  // never finishes
    if (request->name.find("bad") != std::string::npos) {
      const Error error(
          pgstream::ErrorKind::Database, "relation \"nope\" does not exist",
          {.sqlstate = "42P01", .detail = "The query reads \"nope\".", .hint = "Create it first."});
      answer_request(conn_, schema_, *request, RequestState::Failed, &error);
      return;
    }
    if (request->op == "create") {
      const std::string parts = "parse_ident(" + conn_.quote_literal(request->name) + ")";
      (void)pgstream::catalog::upsert_stream_table(conn_, schema_,
                                                   {.schema = conn_.query_value("SELECT (" + parts + ")[1]"),
                                                    .name = conn_.query_value("SELECT (" + parts + ")[2]"),
                                                    .defining_query = request->query,
                                                    .original_query = request->query});
    }
    answer_request(conn_, schema_, *request, RequestState::Done);
  }

  std::string schema_;
  PgConnection conn_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<Request> requests_;
  std::string failure_;
  std::thread thread_;
};

}  // namespace

TEST_CASE_METHOD(PgDatabase, "migration 2 applies to a new and to a version-1 catalog", "[catalog][pg]") {
  PgConnection& conn = connection();
  CHECK(migrate(conn, "fresh") == 0);
  CHECK(catalog_version(conn, "fresh") == kCatalogVersion);
  CHECK(migrate(conn, "fresh") == kCatalogVersion);

  CHECK(migrate(conn, "old", 1) == 0);
  CHECK(catalog_version(conn, "old") == 1);
  CHECK(query_value(
            "SELECT to_regprocedure('old.create_stream_table(text,text,text,text,boolean)') IS NULL") == "t");
  exec(
      "INSERT INTO old.pgs_stream_tables (pgs_schema, pgs_name, defining_query, original_query, source) "
      "VALUES ('public', 'kept', 'SELECT 1', 'SELECT 1', 'yaml')");
  CHECK(migrate(conn, "old") == 1);
  CHECK(migrate(conn, "old") == 2);
  CHECK(query_value("SELECT count(*) FROM old.schema_version") == "2");
  CHECK(query_value("SELECT pgs_name || ':' || (explain_plan IS NULL) FROM old.pgs_stream_tables") ==
        "kept:true");
  for (const char* schema : {"fresh", "old"}) {
    for (const char* function :
         {"create_stream_table(text,text,text,text,boolean)", "alter_stream_table(text,text,text,text,text)",
          "drop_stream_table(text)", "refresh_stream_table(text)", "explain_st(text)",
          "wait_for(pg_lsn,interval)"}) {
      CAPTURE(schema, function);
      CHECK(query_value(std::string("SELECT to_regprocedure('") + schema + "." + function +
                        "') IS NOT NULL") == "t");
    }
    CHECK(query_value(std::string("SELECT to_regclass('") + schema + ".pgs_requests') IS NOT NULL") == "t");
  }
  CHECK_THROWS_WITH(migrate(conn, "x$fn$y"), Catch::Contains("must not contain"));
  CHECK_THROWS_WITH(migrate(conn, "it's"), Catch::Contains("must not contain"));
}

TEST_CASE_METHOD(PgDatabase, "the SQL API checks its arguments before it calls the daemon", "[catalog][pg]") {
  (void)migrate(connection(), "pgstream");
  exec(
      "INSERT INTO pgstream.pgs_stream_tables (pgs_schema, pgs_name, defining_query, original_query, source) "
      "VALUES ('analytics', 'Totals', 'SELECT 1', 'SELECT 1', 'sql')");
  CHECK(sqlstate_of(*this, "SELECT pgstream.create_stream_table('t', 'SELECT 1', refresh_mode => 'FAST')") ==
        "22023");
  CHECK(sqlstate_of(*this, "SELECT pgstream.create_stream_table('t', '  ')") == "22023");
  CHECK(sqlstate_of(*this, "SELECT pgstream.create_stream_table('t', NULL)") == "22023");
  CHECK(sqlstate_of(*this, "SELECT pgstream.create_stream_table(NULL, 'SELECT 1')") == "22004");
  CHECK(sqlstate_of(*this, "SELECT pgstream.create_stream_table('a.b.c', 'SELECT 1')") == "42601");
  CHECK(sqlstate_of(*this, "SELECT pgstream.create_stream_table('a.', 'SELECT 1')") ==
        "22023");  // parse_ident
  CHECK(sqlstate_of(*this, "SELECT pgstream.create_stream_table('analytics.\"Totals\"', 'SELECT 1')") ==
        "42P07");
  CHECK(
      sqlstate_of(*this, "SELECT pgstream.alter_stream_table('analytics.\"Totals\"', status => 'BROKEN')") ==
      "22023");
  CHECK(
      sqlstate_of(*this, "SELECT pgstream.alter_stream_table('analytics.\"Totals\"', refresh_mode => 'x')") ==
      "22023");
  CHECK(sqlstate_of(*this, "SELECT pgstream.alter_stream_table('analytics.\"Totals\"')") == "22023");
  CHECK(sqlstate_of(*this, "SELECT pgstream.alter_stream_table('analytics.totals', status => 'ACTIVE')") ==
        "42P01");
  CHECK(sqlstate_of(*this, "SELECT pgstream.drop_stream_table('nope')") == "42P01");
  CHECK(sqlstate_of(*this, "SELECT pgstream.refresh_stream_table('nope')") == "42P01");
  CHECK(sqlstate_of(*this, "SELECT pgstream.explain_st('nope')") == "42P01");
  CHECK(query_value("SELECT pgstream.explain_st('analytics.\"Totals\"') IS NULL") == "t");

  exec("BEGIN ISOLATION LEVEL REPEATABLE READ");
  CHECK_THROWS_WITH(exec("SELECT pgstream.refresh_stream_table('analytics.\"Totals\"')"),
                    Catch::Contains("cannot wait for the pgstream daemon in a repeatable read transaction"));
  exec("ROLLBACK");
  exec("BEGIN ISOLATION LEVEL SERIALIZABLE");
  CHECK(sqlstate_of(*this, "SELECT pgstream.create_stream_table('t', 'SELECT 1')") == "25001");
  exec("ROLLBACK");
}

TEST_CASE_METHOD(PgDatabase, "without a daemon the SQL API gives up after pgstream.ack_timeout",
                 "[catalog][pg]") {
  (void)migrate(connection(), "pgstream");
  exec("SET pgstream.ack_timeout = '300ms'");
  const auto start = Clock::now();
  try {
    exec("SELECT pgstream.create_stream_table('t', 'SELECT 1')");
    FAIL("create_stream_table returned without a daemon");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "55000");
    CHECK_THAT(error.message(), Catch::Contains("no pgstream daemon answered the create request for stream "
                                                "table public.t within 00:00:00.3"));
    CHECK_THAT(error.hint(), Catch::Contains("postgres.catalog_schema = pgstream?"));
    CHECK_THAT(error.detail(), Catch::Contains("logical decoding message with prefix \"pgstream\""));
  }
  const auto elapsed = Clock::now() - start;
  CHECK(elapsed >= std::chrono::milliseconds(300));
  CHECK(elapsed < std::chrono::seconds(3));
}

TEST_CASE_METHOD(PgDatabase, "a daemon's answers end the SQL API's wait", "[catalog][pg]") {
  const std::string schema = "Cat \"Alog\"";
  PgConnection& conn = connection();
  (void)migrate(conn, schema);
  const std::string api = conn.quote_identifier(schema);
  FakeDaemon daemon(*this, schema);
  exec("SET pgstream.ack_timeout = '20s'");  // the test must not fail on a slow machine

  const std::string query = "SELECT 'it''s' AS \"Q\", E'\\\\' AS b -- ünïcødé 😀\n\tFROM t";
  exec("SELECT " + api + ".create_stream_table('analytics.\"Totals\"', " + conn.quote_literal(query) +
       ", '5s', 'full')");
  auto requests = daemon.requests();
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].op == "create");
  CHECK(requests[0].catalog == schema);
  CHECK(requests[0].name == "analytics.\"Totals\"");
  CHECK(requests[0].query == query);
  CHECK(requests[0].schedule == std::optional<std::string>("5s"));
  CHECK(requests[0].refresh_mode == std::optional<std::string>("FULL"));
  CHECK(requests[0].initialize);
  CHECK(requests[0].role == query_value("SELECT current_user"));
  CHECK(std::to_string(requests[0].pid) == query_value("SELECT pg_backend_pid()"));
  CHECK(query_value("SELECT state FROM " + api + ".pgs_requests WHERE request_id = '" + requests[0].id +
                    "'") == "DONE");

  // The daemon's error, with its SQLSTATE, detail and hint.
  try {
    exec("SELECT " + api + ".create_stream_table('bad', 'SELECT * FROM nope')");
    FAIL("the daemon's error was not raised");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "42P01");
    CHECK_THAT(error.message(), Catch::EndsWith("relation \"nope\" does not exist"));
    CHECK(error.detail() == "The query reads \"nope\".");
    CHECK(error.hint() == "Create it first.");
  }

  exec("SELECT " + api + ".alter_stream_table('analytics.\"Totals\"', status => 'suspended')");
  exec("SELECT " + api + ".refresh_stream_table('analytics.\"Totals\"')");
  // Non-transactional: the request happens although the caller rolls back.
  exec("BEGIN");
  exec("SELECT " + api + ".drop_stream_table('analytics.\"Totals\"')");
  exec("ROLLBACK");

  requests = daemon.requests();
  REQUIRE(requests.size() == 5);
  CHECK(requests[2].op == "alter");
  CHECK(requests[2].status == std::optional<std::string>("SUSPENDED"));
  CHECK_FALSE(requests[2].refresh_mode.has_value());
  CHECK(requests[2].query.empty());
  CHECK(requests[3].op == "refresh");
  CHECK(requests[4].op == "drop");
  CHECK(requests[4].name == "analytics.\"Totals\"");
  CHECK(query_value("SELECT string_agg(op || ':' || state, ',' ORDER BY created_at) FROM " + api +
                    ".pgs_requests") == "create:DONE,create:FAILED,alter:DONE,refresh:DONE,drop:DONE");
  CHECK(daemon.failure().empty());

  // Received but never finished: the caller gives up after pgstream.request_timeout.
  exec("SET pgstream.request_timeout = '300ms'");
  try {
    exec("SELECT " + api + ".create_stream_table('slow', 'SELECT 1')");
    FAIL("create_stream_table returned without an answer");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "57014");
    CHECK_THAT(error.message(),
               Catch::Contains("did not finish the create request for stream table public.slow"));
    CHECK_THAT(error.hint(), Catch::Contains(".pgs_requests WHERE request_id = '"));
  }
  CHECK(daemon.failure().empty());
}
