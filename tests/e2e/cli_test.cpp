// `pgstream check` and `pgstream status` against a live database.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "e2e/daemon_process.hpp"
#include "support/pg_cluster.hpp"

using pgstream::testing::PgDatabase;
using namespace pgstream::e2e;

namespace {

std::filesystem::path write_config(const std::filesystem::path& dir, const std::string& file,
                                   const PgDatabase& db, const std::vector<StreamTableSpec>& tables) {
  const auto path = dir / file;
  std::ofstream(path) << render_config(db.conninfo(), "pgs_cli_unused", "pgs_cli_unused", {}, tables);
  return path;
}

std::vector<std::string> lines_starting_with(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) out.push_back(line);
  }
  return out;
}

const char* const kSchema = R"sql(
  CREATE TABLE good (id int PRIMARY KEY, v int);
  CREATE TABLE nokey (a int, b int);
  INSERT INTO good SELECT g, g % 5 FROM generate_series(1, 10) g;
)sql";

}  // namespace

TEST_CASE_METHOD(PgDatabase, "e2e: pgstream check prints plans for a good config and changes nothing",
                 "[e2e][cli]") {
  exec(kSchema);
  const auto dir = make_temp_dir(db_name() + "-check");
  const auto config = write_config(dir, "good.yaml", *this,
                                   {{"public.t_good", "SELECT v, count(*) AS n FROM good GROUP BY v"},
                                    {"public.t_rows", "SELECT id FROM good"}});
  const CommandResult result = run_pgstream({"check", "--config", config.string()}, dir);
  INFO("stdout:\n" << result.out << "\nstderr:\n" << result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out.find("== public.t_good") != std::string::npos);
  CHECK(result.out.find("== public.t_rows") != std::string::npos);
  CHECK(lines_starting_with(result.out, "problem:").empty());
  // Nothing created: no target, no catalog, no slot.
  CHECK(query_value("SELECT to_regclass('public.t_good') IS NULL AND to_regnamespace('pgstream') IS NULL") ==
        "t");
  CHECK(query_value("SELECT count(*) FROM pg_replication_slots WHERE database = current_database()") == "0");
  std::filesystem::remove_all(dir);
}

TEST_CASE_METHOD(PgDatabase,
                 "e2e: pgstream check on a fresh database accepts a chain whose upstream is not created yet",
                 "[e2e][cli][chain]") {
  exec(kSchema);
  const auto dir = make_temp_dir(db_name() + "-check");
  const auto config = write_config(dir, "chain.yaml", *this,
                                   {{"public.t_counts", "SELECT v, count(*) AS n FROM good GROUP BY v"},
                                    {"public.t_big", "SELECT v, n FROM t_counts WHERE n > 1"},
                                    {"public.t_typo", "SELECT v FROM no_such_table"}});
  const CommandResult result = run_pgstream({"check", "--config", config.string()}, dir);
  INFO("stdout:\n" << result.out << "\nstderr:\n" << result.err);
  CHECK(result.exit_code == 1);  // the typo only
  CHECK(result.out.find("reads stream table public.t_counts, which pgstream creates when it starts") !=
        std::string::npos);
  const auto problems = lines_starting_with(result.out, "problem:");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("t_typo") != std::string::npos);
  CHECK(query_value("SELECT to_regclass('public.t_counts') IS NULL") == "t");
  std::filesystem::remove_all(dir);
}

TEST_CASE_METHOD(PgDatabase, "e2e: pgstream check rejects a volatile function with one line per problem",
                 "[e2e][cli]") {
  exec(kSchema);
  const auto dir = make_temp_dir(db_name() + "-check");
  const auto config =
      write_config(dir, "bad.yaml", *this,
                   {{"public.t_good", "SELECT v, count(*) AS n FROM good GROUP BY v"},
                    {"public.t_random", "SELECT id, random() AS r FROM good"},
                    {"public.t_now", "SELECT id FROM good WHERE v < extract(dow FROM now())"}});
  const CommandResult result = run_pgstream({"check", "--config", config.string()}, dir);
  INFO("stdout:\n" << result.out << "\nstderr:\n" << result.err);
  CHECK(result.exit_code == 1);
  const auto problems = lines_starting_with(result.out, "problem:");
  REQUIRE(problems.size() == 2);
  CHECK(problems[0].find("t_random") != std::string::npos);
  CHECK(problems[0].find("random") != std::string::npos);
  CHECK(problems[1].find("t_now") != std::string::npos);
  CHECK(problems[1].find("now") != std::string::npos);
  CHECK(result.out.find("== public.t_good") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE_METHOD(PgDatabase, "e2e: pgstream check rejects a source without primary key or replica identity",
                 "[e2e][cli]") {
  exec(kSchema);
  const auto dir = make_temp_dir(db_name() + "-check");
  const auto config = write_config(dir, "nokey.yaml", *this,
                                   {{"public.t_good", "SELECT v, count(*) AS n FROM good GROUP BY v"},
                                    {"public.t_nokey", "SELECT a, b FROM nokey"}});
  const CommandResult result = run_pgstream({"check", "--config", config.string()}, dir);
  INFO("stdout:\n" << result.out << "\nstderr:\n" << result.err);
  CHECK(result.exit_code == 1);
  const auto problems = lines_starting_with(result.out, "problem:");
  REQUIRE(problems.size() == 1);
  CHECK(problems[0].find("nokey") != std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE_METHOD(PgDatabase, "e2e: pgstream status --json lists the stream tables", "[e2e][cli]") {
  exec(kSchema);
  const std::vector<StreamTableSpec> tables{{"public.t_good", "SELECT v, count(*) AS n FROM good GROUP BY v"},
                                            {"public.t_rows", "SELECT id FROM good"}};
  DaemonProcess daemon(*this, tables);
  daemon.start();
  daemon.wait_until_active(2);
  const CommandResult json =
      run_pgstream({"status", "--config", daemon.config_path().string(), "--json"}, daemon.dir());
  INFO("stdout:\n" << json.out << "\nstderr:\n" << json.err);
  CHECK(json.exit_code == 0);
  CHECK(json.out.find("\"name\":\"public.t_good\"") != std::string::npos);
  CHECK(json.out.find("\"name\":\"public.t_rows\"") != std::string::npos);
  CHECK(json.out.find("\"status\":\"ACTIVE\"") != std::string::npos);
  CHECK(json.out.find("\"frontier_lsn\":\"") != std::string::npos);
  CHECK(json.out.front() == '[');
  const CommandResult text =
      run_pgstream({"status", "--config", daemon.config_path().string()}, daemon.dir());
  INFO("text stdout:\n" << text.out);
  CHECK(text.exit_code == 0);
  CHECK(lines_starting_with(text.out, "public.t_").size() == 2);
  CHECK(daemon.sigterm_and_wait() == 0);
}
