// The test cluster itself: the settings every other test relies on.
#include <catch2/catch.hpp>
#include <csignal>
#include <iostream>

#include "support/pg_cluster.hpp"

using pgstream::testing::PgCluster;
using pgstream::testing::PgDatabase;

TEST_CASE_METHOD(PgDatabase, "the test cluster is PostgreSQL 15+ with logical WAL", "[pg][harness]") {
  CHECK(std::stoi(query_value("SHOW server_version_num")) >= 150000);
  CHECK(query_value("SHOW wal_level") == "logical");
  CHECK(std::stoi(query_value("SHOW max_replication_slots")) >= 20);
  CHECK(std::stoi(query_value("SHOW max_wal_senders")) >= 20);
  CHECK(query_value("SHOW fsync") == "off");
  CHECK(query_value("SHOW listen_addresses") == "127.0.0.1");
  CHECK(query_value("SELECT current_database()") == db_name());
  CHECK(query_value("SELECT pg_read_file('postmaster.pid') IS NOT NULL") == "t");
}

TEST_CASE_METHOD(PgDatabase, "the test cluster orders text by a real collation, not C", "[pg][harness]") {
  CHECK(query_value("SELECT datcollate FROM pg_database WHERE datname = current_database()") ==
        "en_US.UTF-8");
  // en_US sorts case-insensitively first; C sorts by byte value (all capitals first).
  CHECK(query_value("SELECT string_agg(x, ',' ORDER BY x) FROM (VALUES ('b'), ('B'), ('a'), ('A')) v(x)") ==
        "a,A,b,B");
  CHECK(query_value(
            "SELECT string_agg(x, ',' ORDER BY x COLLATE \"C\") FROM (VALUES ('b'), ('B'), ('a'), ('A')) "
            "v(x)") == "A,B,a,b");
}

TEST_CASE("each test case gets a fresh database of its own", "[pg][harness]") {
  std::string first_name;
  {
    PgDatabase first;
    first_name = first.db_name();
    first.exec("CREATE TABLE only_here (id int)");
    PgDatabase second;
    CHECK(second.db_name() != first.db_name());
    CHECK(second.query_value("SELECT count(*) FROM pg_class WHERE relname = 'only_here'") == "0");
    CHECK(first.query_value("SELECT count(*) FROM pg_class WHERE relname = 'only_here'") == "1");
    first.exec("SELECT pg_create_logical_replication_slot('left_behind', 'pgoutput')");
  }
  // Dropped, with its replication slot, when the fixture went out of scope.
  PgDatabase probe;
  CHECK(probe.query_value("SELECT count(*) FROM pg_database WHERE datname = '" + first_name + "'") == "0");
  CHECK(probe.query_value("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'left_behind'") ==
        "0");
}

TEST_CASE("the cluster restarts on the same port after a crash", "[pg][harness]") {
  PgCluster& cluster = PgCluster::shared();
  const int port = cluster.port();
  {
    PgDatabase db;
    db.exec("CREATE TABLE survivor (id int); INSERT INTO survivor VALUES (1)");
  }
  cluster.restart("immediate");
  CHECK(cluster.running());
  CHECK(cluster.port() == port);
  PgDatabase db;
  CHECK(db.query_value("SELECT 1") == "1");
}

// Hidden cases, run by cleanup_test.sh: a test binary that fails, aborts or
// is killed must still leave no server and (after the sweep) no dir behind.
TEST_CASE("harness: a failing test", "[.failing]") {
  PgDatabase db;
  std::cout << "cluster-dir: " << db.cluster().data_dir().parent_path().string() << std::endl;
  REQUIRE(db.query_value("SELECT 1") == "2");
}

TEST_CASE("harness: a crashing test", "[.crashing]") {
  PgDatabase db;
  std::cout << "cluster-dir: " << db.cluster().data_dir().parent_path().string() << std::endl;
  std::raise(SIGSEGV);
}

TEST_CASE("harness: a killed test", "[.killed]") {
  PgDatabase db;
  std::cout << "cluster-dir: " << db.cluster().data_dir().parent_path().string() << std::endl;
  std::raise(SIGKILL);
}
