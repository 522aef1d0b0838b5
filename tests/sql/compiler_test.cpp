// The shape of compiled plans: rewrites, sharing, decorrelation, typing,
// sources, and the explain text `pgstream check` prints.
#include <catch2/catch.hpp>

#include <map>

#include "corpus_support.hpp"
#include "pgstream/sql/compiler.hpp"
#include "pgstream/sql/explain.hpp"
#include "support/pg_cluster.hpp"

namespace {

using pgstream::sql::Expr;
using pgstream::sql::ExprKind;
using pgstream::sql::ExprPtr;
using pgstream::sql::LogicalPlan;
using pgstream::sql::PlanKind;

class SchemaDatabase : public pgstream::testing::PgDatabase {
 public:
  SchemaDatabase() { exec(pgstream::testing::read_text(pgstream::testing::sql_test_dir() / "setup.sql")); }

  LogicalPlan compile(const std::string& sql) { return pgstream::sql::compile_query(connection(), sql); }
  std::string plan_of(const std::string& sql) { return pgstream::sql::explain(compile(sql)); }
};

// The first expression of `kind` in the root Project (depth first).
ExprPtr find_expr(const LogicalPlan& plan, ExprKind kind) {
  ExprPtr found;
  for (const ExprPtr& expr : plan.root->exprs) {
    pgstream::sql::walk_expr(expr, [&](const ExprPtr& e) {
      if (!found && e->kind == kind) found = e;
    });
  }
  return found;
}

}  // namespace

TEST_CASE_METHOD(SchemaDatabase, "explain prints the README's example with pushdown and pruning",
                 "[pg][sql]") {
  CHECK(plan_of("SELECT c.region, count(*) AS orders, sum(o.amount) AS revenue\n"
                "FROM orders o JOIN customers c ON c.id = o.customer_id\n"
                "WHERE o.status = 'paid'\nGROUP BY c.region") ==
        "Project region, count AS orders, sum AS revenue\n"
        "  Aggregate keys=[c.region] aggs=[count(*), sum(o.amount)]\n"
        "    Join inner on (c.id = o.customer_id)\n"
        "      Filter (o.status = 'paid')\n"
        "        Scan public.orders AS o [customer_id, amount, status] key=(id)\n"
        "      Scan public.customers AS c [id, region] key=(id)\n");
}

TEST_CASE_METHOD(SchemaDatabase, "a CTE referenced twice is one shared plan node", "[pg][sql]") {
  const LogicalPlan plan = compile(
      "WITH totals AS (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id)\n"
      "SELECT a.customer_id, b.total FROM totals a JOIN totals b ON a.total < b.total");
  const auto& join = plan.root->inputs.at(0);
  REQUIRE(join->kind == PlanKind::Join);
  CHECK(join->inputs[0]->inputs.at(0) == join->inputs[1]->inputs.at(0));  // the same node
  CHECK(join->inputs[0]->output[0].binding != join->inputs[1]->output[0].binding);
  const std::string text = pgstream::sql::explain(plan);
  CHECK(text.find("[shared #1]") != std::string::npos);
  CHECK(text.find("-> shared #1 (totals)") != std::string::npos);
}

TEST_CASE_METHOD(SchemaDatabase, "EXISTS, NOT EXISTS, IN and NOT IN become semi and anti joins",
                 "[pg][sql]") {
  CHECK(
      plan_of("SELECT c.id FROM customers c\n"
              "WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.status = 'paid')") ==
      "Project c.id\n"
      "  Join anti on (o.customer_id = c.id)\n"
      "    Scan public.customers AS c [id] key=(id)\n"
      "    Filter (o.status = 'paid')\n"
      "      Scan public.orders AS o [customer_id, status] key=(id)\n");
  CHECK(plan_of("SELECT id FROM customers WHERE id NOT IN (SELECT customer_id FROM orders)") ==
        "Project customers.id\n"
        "  Join anti (null-aware) on (customers.id = orders.customer_id)\n"
        "    Scan public.customers [id] key=(id)\n"
        "    Scan public.orders [customer_id] key=(id)\n");
  CHECK(plan_of("SELECT c.id FROM customers c WHERE c.id IN (SELECT o.customer_id FROM orders o WHERE "
                "o.status = c.region)")
            .find("Join semi on ((o.status = c.region) AND (c.id = o.customer_id))") != std::string::npos);
}

TEST_CASE_METHOD(SchemaDatabase, "correlated scalar aggregates become LEFT JOINs over a grouped subquery",
                 "[pg][sql]") {
  CHECK(plan_of(
            "SELECT c.id, (SELECT count(*) FROM orders o WHERE o.customer_id = c.id AND o.amount > 10) AS n\n"
            "FROM customers c") ==
        "Project c.id, COALESCE(count, 0) AS n\n"
        "  Join left on (c.id = customer_id)\n"
        "    Scan public.customers AS c [id] key=(id)\n"
        "    Aggregate keys=[o.customer_id] aggs=[count(*)]\n"
        "      Filter (o.amount > CAST(10 AS numeric))\n"
        "        Scan public.orders AS o [customer_id, amount] key=(id)\n");
}

TEST_CASE_METHOD(SchemaDatabase, "subqueries that cannot be decorrelated stay correlated subplans",
                 "[pg][sql]") {
  const LogicalPlan plan = compile(
      "SELECT c.id, (SELECT count(*) FROM orders o WHERE o.customer_id > c.id) AS n FROM customers c");
  const ExprPtr sub = find_expr(plan, ExprKind::Subquery);
  REQUIRE(sub);
  CHECK(sub->correlated);
  CHECK(sub->type.oid == 20);  // bigint, like count(*)
  CHECK_FALSE(pgstream::sql::free_bindings(*sub->subplan).empty());
}

TEST_CASE_METHOD(SchemaDatabase, "LATERAL top-N per group is a lateral join over a TopK", "[pg][sql]") {
  CHECK(plan_of("SELECT c.id, t.amount FROM customers c,\n"
                "  LATERAL (SELECT o.amount FROM orders o WHERE o.customer_id = c.id ORDER BY o.amount DESC "
                "LIMIT 2) t") ==
        "Project c.id, t.amount\n"
        "  Join inner lateral (cross)\n"
        "    Scan public.customers AS c [id] key=(id)\n"
        "    TopK order=[amount DESC] limit=2 offset=0\n"
        "      Project o.amount\n"
        "        Filter (o.customer_id = c.id)\n"
        "          Scan public.orders AS o [customer_id, amount] key=(id)\n");
}

TEST_CASE_METHOD(SchemaDatabase, "functions and operators carry their OID, volatility and evaluator",
                 "[pg][sql]") {
  const LogicalPlan plan =
      compile("SELECT lower(name) AS l, add_tax(1.5) AS t, id <-> 4 AS m FROM customers");
  const auto& exprs = plan.root->exprs;
  REQUIRE(exprs.size() == 3);
  CHECK(exprs[0]->kind == ExprKind::Function);
  CHECK(exprs[0]->function_oid == std::stoul(query_value("SELECT 'lower(text)'::regprocedure::oid")));
  CHECK(exprs[0]->evaluation == pgstream::sql::Evaluation::Native);
  CHECK(exprs[0]->volatility == pgstream::sql::Volatility::Immutable);
  CHECK(exprs[0]->type.collation == 100);  // the column's default collation
  CHECK(exprs[1]->function_oid == std::stoul(query_value("SELECT 'add_tax(numeric)'::regprocedure::oid")));
  CHECK(exprs[1]->evaluation == pgstream::sql::Evaluation::Server);  // user-defined: batched to the server
  CHECK(exprs[2]->kind == ExprKind::Operator);
  CHECK(exprs[2]->operator_oid == std::stoul(query_value("SELECT '<->(int,int)'::regoperator::oid")));
  CHECK(exprs[2]->function_oid == std::stoul(query_value("SELECT 'midpoint(int,int)'::regprocedure::oid")));
  CHECK(exprs[2]->evaluation == pgstream::sql::Evaluation::Server);
}

TEST_CASE_METHOD(SchemaDatabase, "types, typmods and collations are the server's", "[pg][sql]") {
  const LogicalPlan plan = compile(
      "SELECT email::varchar(20) AS e, amount * 2 AS a, w, w2 COLLATE \"C\" AS c, sum(qty) OVER () AS s\n"
      "FROM customers, orders, words, order_items");
  REQUIRE(plan.column_types.size() == 5);
  CHECK(plan.column_types[0].oid == 1043);
  CHECK(plan.column_types[0].typmod == 24);  // varchar(20)
  CHECK(plan.column_types[1].oid == 1700);
  CHECK(plan.column_types[2].collation == 950);  // the column's own "C"
  CHECK(plan.column_types[3].collation == 950);  // explicit COLLATE "C"
  CHECK(plan.column_types[4].oid == 20);
}

TEST_CASE_METHOD(SchemaDatabase, "sources record keys, replica identity, partitioning; views are expanded",
                 "[pg][sql]") {
  const LogicalPlan plan = compile(
      "SELECT r.region, e.kind, m.city, i.qty FROM big_order_regions r, events e, measurements m, "
      "order_items i");
  CHECK(plan.views == std::vector<std::string>{"public.big_order_regions", "public.big_orders"});
  std::map<std::string, std::shared_ptr<const pgstream::sql::SourceRelation>> by_name;
  for (const auto& source : plan.sources) by_name[source->name] = source;
  REQUIRE(by_name.size() == 5);
  CHECK(by_name["orders"]->primary_key == std::vector<std::int16_t>{1});
  CHECK(by_name["customers"]->unique_keys.size() == 2);  // primary key and email
  CHECK(by_name["events"]->replica_identity == 'f');
  CHECK(by_name["measurements"]->relkind == 'p');
  CHECK(by_name["order_items"]->primary_key.empty());
  CHECK(by_name["customers"]->columns[1].not_null);
}

TEST_CASE_METHOD(SchemaDatabase, "other stream tables in FROM are flagged", "[pg][sql]") {
  exec("CREATE SCHEMA pgstream");
  exec("CREATE TABLE pgstream.pgs_stream_tables (pgs_id serial, pgs_relid oid)");
  exec("CREATE TABLE region_totals (region text, total numeric)");
  exec("INSERT INTO pgstream.pgs_stream_tables (pgs_relid) VALUES ('region_totals'::regclass)");
  CHECK(plan_of("SELECT t.region, c.name FROM region_totals t JOIN customers c USING (region)")
            .find("StreamTableScan public.region_totals AS t [region]") != std::string::npos);
}

TEST_CASE_METHOD(SchemaDatabase, "what the server rejects keeps its SQLSTATE and gets line:column",
                 "[pg][sql]") {
  try {
    (void)compile("SELECT id\nFROM orders\nWHERE nosuch > 1");
    FAIL("compiled");
  } catch (const pgstream::Error& error) {
    CHECK(error.kind() == pgstream::ErrorKind::Database);
    CHECK(error.sqlstate() == "42703");
    CHECK(error.message() ==
          "preparing the stream table's query: column \"nosuch\" does not exist (line 3, column 7)");
  }
  CHECK(PQtransactionStatus(connection().get()) == PQTRANS_IDLE);
}

TEST_CASE_METHOD(SchemaDatabase, "an unknown relation is 42P01", "[pg][sql]") {
  try {
    (void)compile("SELECT 1 FROM nosuch");
    FAIL("compiled");
  } catch (const pgstream::Error& error) {
    CHECK(error.sqlstate() == "42P01");
    CHECK(error.message().find("relation \"nosuch\" does not exist") != std::string::npos);
    CHECK(pgstream::sql::missing_relation(error) == "nosuch");
  }
  try {
    (void)compile("SELECT 1 FROM public.nosuch");
    FAIL("compiled");
  } catch (const pgstream::Error& error) {
    CHECK(pgstream::sql::missing_relation(error) == "public.nosuch");
  }
  CHECK_FALSE(pgstream::sql::missing_relation(
      pgstream::Error(pgstream::ErrorKind::Config, "relation \"x\" is odd", {.sqlstate = "42P01"})));
}

TEST_CASE_METHOD(SchemaDatabase, "compiling changes nothing in the database", "[pg][sql]") {
  const std::string before = query_value("SELECT count(*) FROM pg_class");
  (void)compile(
      "SELECT lower(name), sum(amount) OVER (PARTITION BY region) FROM customers JOIN orders ON true");
  CHECK(query_value("SELECT count(*) FROM pg_class") == before);
}

TEST_CASE_METHOD(SchemaDatabase, "implicit coercions are explicit casts; literals take the parameter's type",
                 "[pg][sql]") {
  const LogicalPlan plan =
      compile("SELECT o.id + 1.5 AS a, status = 'paid' AS b, email = name AS c FROM orders o, customers");
  const auto& exprs = plan.root->exprs;
  REQUIRE(exprs.size() == 3);
  REQUIRE(exprs[0]->args.size() == 2);
  CHECK(exprs[0]->args[0]->kind == ExprKind::Cast);  // int4 -> numeric, as the server does
  CHECK(exprs[0]->args[0]->type.oid == 1700);
  CHECK(exprs[0]->args[0]->args[0]->kind == ExprKind::Column);
  CHECK(exprs[1]->args[1]->kind == ExprKind::Const);
  CHECK(exprs[1]->args[1]->type.oid == 25);          // 'paid' is text, not unknown
  CHECK(exprs[2]->args[0]->kind == ExprKind::Cast);  // varchar -> text for texteq
  CHECK(exprs[2]->args[0]->type.oid == 25);
}

TEST_CASE_METHOD(SchemaDatabase, "pushdown stops where it would change the result", "[pg][sql]") {
  // Into the grouped input when the conjunct reads only group keys.
  CHECK(plan_of("SELECT * FROM (SELECT status, count(*) AS n FROM orders GROUP BY status) s "
                "WHERE status = 'paid' AND n > 1") ==
        "Project s.status, s.n\n"
        "  Project status, count AS n\n"
        "    Filter (count > 1)\n"
        "      Aggregate keys=[orders.status] aggs=[count(*)]\n"
        "        Filter (orders.status = 'paid')\n"
        "          Scan public.orders [status] key=(id)\n");
  // Not into a grouping-sets aggregate, not below a window, not into the nullable side.
  CHECK(plan_of("SELECT * FROM (SELECT region, count(*) AS n FROM customers GROUP BY ROLLUP (region)) s "
                "WHERE region = 'north'")
            .find("Filter (customers.region = 'north')") == std::string::npos);
  const std::string windowed = plan_of(
      "SELECT * FROM (SELECT id, customer_id, rank() OVER (PARTITION BY customer_id ORDER BY id) AS r FROM "
      "orders) t "
      "WHERE r = 1");
  CHECK(windowed.find("Filter (rank = 1)\n      Window") != std::string::npos);
  // A WHERE that rejects the NULL-extended rows turns the outer join inner; one that keeps them stays above.
  CHECK(plan_of("SELECT c.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.amount > 5 "
                "AND c.vip") ==
        "Project c.id\n"
        "  Join inner on (o.customer_id = c.id)\n"
        "    Filter c.vip\n"
        "      Scan public.customers AS c [id, vip] key=(id)\n"
        "    Filter (o.amount > CAST(5 AS numeric))\n"
        "      Scan public.orders AS o [customer_id, amount] key=(id)\n");
  CHECK(plan_of("SELECT a.id FROM orders a FULL JOIN customers b ON a.customer_id = b.id WHERE b.vip")
            .find("Join right on (a.customer_id = b.id)") != std::string::npos);
  CHECK(plan_of("SELECT c.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.id IS NULL "
                "OR c.vip")
            .find("Filter ((o.id IS NULL) OR c.vip)\n    Join left") != std::string::npos);
  // A shared CTE keeps its rows: the filter stays above it, per reference.
  CHECK(plan_of("WITH t AS (SELECT id, amount FROM orders) SELECT a.id FROM t a JOIN t b ON a.id = b.id "
                "WHERE a.amount > 5")
            .find("Filter (amount > CAST(5 AS numeric))\n        Project orders.id, orders.amount  [shared "
                  "#1]") != std::string::npos);
}

TEST_CASE_METHOD(SchemaDatabase, "sort keys and aggregate arguments carry the collation that orders them",
                 "[pg][sql]") {
  const LogicalPlan top = compile("SELECT w FROM words ORDER BY w2 LIMIT 2");
  const auto& topk = top.root->inputs.at(0);
  REQUIRE(topk->kind == PlanKind::TopK);
  CHECK(topk->sort_keys.at(0).expr->type.collation == 100);  // w2: the database's en_US.UTF-8
  const LogicalPlan c_top = compile("SELECT w FROM words ORDER BY w LIMIT 2");
  CHECK(c_top.root->sort_keys.at(0).expr->type.collation == 950);  // w is declared COLLATE "C"
  const LogicalPlan agg = compile("SELECT min(w2), max(w2 COLLATE \"C\") FROM words");
  const auto& aggregate = agg.root->inputs.at(0);
  REQUIRE(aggregate->kind == PlanKind::Aggregate);
  CHECK(aggregate->aggregates.at(0)->args.at(0)->type.collation == 100);
  CHECK(aggregate->aggregates.at(1)->args.at(0)->type.collation == 950);
  CHECK(aggregate->aggregates.at(1)->type.collation == 950);
}

TEST_CASE_METHOD(SchemaDatabase, "columns used per source, for pgs_dependencies", "[pg][sql]") {
  const LogicalPlan plan = compile(
      "SELECT c.region, sum(o.amount) FROM orders o JOIN customers c ON c.id = o.customer_id "
      "WHERE EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id) GROUP BY c.region");
  std::map<std::string, std::vector<std::string>> used;
  for (const auto& source : plan.columns_used) used[source.relation->name] = source.columns;
  CHECK(used["orders"] == std::vector<std::string>{"id", "customer_id", "amount"});
  CHECK(used["customers"] == std::vector<std::string>{"id", "region"});
  CHECK(used["order_items"] == std::vector<std::string>{"order_id"});
}

TEST_CASE_METHOD(SchemaDatabase, "the defining query has every view expanded, nested ones too", "[pg][sql]") {
  const LogicalPlan plan = compile("SELECT r.region, sum(amount) FROM public.big_order_regions r GROUP BY 1");
  CHECK(plan.original_query == "SELECT r.region, sum(amount) FROM public.big_order_regions r GROUP BY 1");
  INFO(plan.defining_query);
  CHECK(plan.defining_query.find("big_order") == std::string::npos);
  CHECK(plan.defining_query.rfind("SELECT r.region, sum(amount) FROM ( SELECT b.id,", 0) == 0);
  CHECK(plan.defining_query.find("FROM (( SELECT orders.id,") != std::string::npos);
  CHECK(plan.defining_query.find(") b\n") != std::string::npos);  // the view's own alias kept
  CHECK(plan.defining_query.find(") r GROUP BY 1") != std::string::npos);
  const LogicalPlan bare = compile("SELECT id FROM big_orders");
  CHECK(bare.defining_query.find(") AS \"big_orders\"") != std::string::npos);
}

TEST_CASE_METHOD(SchemaDatabase, "compiling refuses to run inside the caller's transaction", "[pg][sql]") {
  exec("BEGIN");
  CHECK_THROWS_AS(compile("SELECT id FROM orders"), pgstream::Error);
  CHECK(PQtransactionStatus(connection().get()) == PQTRANS_INTRANS);  // the caller's transaction is untouched
  exec("ROLLBACK");
}

TEST_CASE_METHOD(SchemaDatabase, "native evaluation needs a known routine on natively packed types",
                 "[pg][sql]") {
  const LogicalPlan plan =
      compile("SELECT length(name) AS a, length(B'101') AS b, upper(name) || 'x' AS c FROM customers");
  const auto& exprs = plan.root->exprs;
  REQUIRE(exprs.size() == 3);
  CHECK(exprs[0]->evaluation == pgstream::sql::Evaluation::Native);
  CHECK(exprs[1]->evaluation ==
        pgstream::sql::Evaluation::Server);  // length(bit): bit is not packed natively
  CHECK(exprs[2]->evaluation == pgstream::sql::Evaluation::Native);
  CHECK(exprs[2]->args[0]->evaluation == pgstream::sql::Evaluation::Native);
}

TEST_CASE_METHOD(SchemaDatabase, "a stream table may not read itself, not even through a view", "[pg][sql]") {
  exec("CREATE TABLE totals (region text, n bigint)");
  exec("CREATE VIEW totals_view AS SELECT region, n FROM totals");
  pgstream::sql::CompileOptions options;
  options.target = static_cast<pgstream::sql::Oid>(std::stoul(query_value("SELECT 'totals'::regclass::oid")));
  try {
    (void)pgstream::sql::compile_query(
        connection(), "SELECT region, count(*) FROM customers\nJOIN totals USING (region) GROUP BY 1",
        options);
    FAIL("compiled");
  } catch (const pgstream::Error& error) {
    CHECK(error.message() ==
          "the stream table public.totals reading itself is not supported (line 2, column 6)");
  }
  CHECK_THROWS_AS(pgstream::sql::compile_query(connection(), "SELECT * FROM totals_view", options),
                  pgstream::Error);
  CHECK_NOTHROW(pgstream::sql::compile_query(connection(), "SELECT * FROM totals_view"));
}
