// The shape of compiled plans: rewrites, sharing, decorrelation, explain.
#include <catch2/catch.hpp>

#include "corpus_support.hpp"
#include "pgstream/sql/compiler.hpp"
#include "pgstream/sql/explain.hpp"
#include "support/pg_cluster.hpp"

namespace {

class SchemaDatabase : public pgstream::testing::PgDatabase {
 public:
  SchemaDatabase() { exec(pgstream::testing::read_text(pgstream::testing::sql_test_dir() / "setup.sql")); }

  std::string plan_of(const std::string& sql) {
    return pgstream::sql::explain(pgstream::sql::compile_query(connection(), sql));
  }
};

}  // namespace

TEST_CASE_METHOD(SchemaDatabase, "explain prints the operator tree", "[pg][sql]") {
  const std::string plan = plan_of(
      "SELECT c.region, count(*) AS orders, sum(o.amount) AS revenue\n"
      "FROM orders o JOIN customers c ON c.id = o.customer_id\n"
      "WHERE o.status = 'paid'\nGROUP BY c.region");
  INFO(plan);
  CHECK(plan.find("Aggregate keys=[region]") != std::string::npos);
  CHECK(plan.find("Join inner on (id = customer_id)") != std::string::npos);
}
