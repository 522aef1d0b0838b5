// The native evaluator against PostgreSQL: each expression is compiled
// through compile_query(), evaluated natively over the table's rows, and every
// value (as format_datum prints it) or error SQLSTATE must equal what the
// server returns for the same SELECT on the same row.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/engine/datum_io.hpp"
#include "pgstream/sql/compiler.hpp"
#include "pgstream/sql/evaluator.hpp"
#include "support/pg_cluster.hpp"

namespace {

using pgstream::sql::ColumnBinding;
using pgstream::sql::LogicalPlan;
using pgstream::sql::PlanKind;

constexpr const char* kSchema = R"sql(
CREATE TABLE t (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric,
                n2 numeric(10,2), s text COLLATE "C", v varchar(20) COLLATE "C", b bool, c char(5) COLLATE "C");
INSERT INTO t VALUES
  (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (2, 32767, 2147483647, 9223372036854775807, 3.4e38, 1e308, 12345.6789, 99999999.99, 'Hello', 'World', true, 'ab'),
  (3, -32768, -2147483648, -9223372036854775808, -1.5, -0, -0.5, -0.01, 'ÉCOLE straße', 'éa', false, ''),
  (4, 0, 0, 0, 0, 0, 0, 0, '', '', NULL, 'x'),
  (5, -1, -1, -1, 'NaN', 'NaN', 'NaN', 1.5, 'a%b_c', 'A%B', true, 'abcde'),
  (6, 7, 7, 7, 'Infinity', '-Infinity', 0.000001, 2.55, 'abc\', 'ab', false, 'a c'),
  (7, 2, 3, 5, 1e-30, 1e-300, 1e20, -2.50, 'mIxEd CaSe', 'mixed', true, 'z'),
  (8, 100, -7, 3, 2.5, 3.5, -123.45, 7.77, 'abc', 'abc', NULL, 'abc');
ALTER TABLE t ADD COLUMN d text;  -- the database's default collation
UPDATE t SET d = s;
ALTER TABLE t ADD COLUMN dt date, ADD COLUMN ts timestamp, ADD COLUMN u uuid;
UPDATE t SET dt = date '2000-01-01' + (id * 1000 * (id % 2 * 2 - 1)),
             ts = timestamp '2020-02-29 12:00' + id * interval '37 hours',
             u = ('00000000-0000-0000-0000-00000000000' || id)::uuid WHERE id > 1;
UPDATE t SET dt = 'infinity', ts = '-infinity' WHERE id = 8;
)sql";

// A fresh seed, or PGSTREAM_TEST_SEED's to replay a failure.
unsigned test_seed() {
  const char* fixed = std::getenv("PGSTREAM_TEST_SEED");  // NOLINT(concurrency-mt-unsafe): set before the run
  return fixed != nullptr ? static_cast<unsigned>(std::stoul(fixed))
                          : static_cast<unsigned>(std::random_device{}());
}

class EvalDatabase : public pgstream::testing::PgDatabase {
 public:
  EvalDatabase() { exec(kSchema); }

  // Server result for one row: the value's text, "NULL", or "ERROR <sqlstate>".
  std::string server_value(const std::string& expr, int id) {
    const std::string sql = "SELECT " + expr + " FROM t WHERE id = " + std::to_string(id);
    pgstream::PgResult result(PQexec(connection().get(), sql.c_str()));
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      const char* state = PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
      return std::string("ERROR ") + (state != nullptr ? state : "?");
    }
    if (PQgetisnull(result.get(), 0, 0) != 0) return "NULL";
    return PQgetvalue(result.get(), 0, 0);
  }

  // The scan's columns of row `id`, packed as the engine packs them.
  pgstream::engine::RowPacker scan_row(const pgstream::sql::PlanNode& scan, int id) {
    std::string cols;
    for (const auto& col : scan.output) cols += (cols.empty() ? "" : ", ") + col.name;
    if (cols.empty()) cols = "1";
    pgstream::PgResult result(
        PQexec(connection().get(), ("SELECT " + cols + " FROM t WHERE id = " + std::to_string(id)).c_str()));
    REQUIRE(PQresultStatus(result.get()) == PGRES_TUPLES_OK);
    pgstream::engine::RowPacker row;
    for (std::size_t i = 0; i < scan.output.size(); ++i) {
      const int c = static_cast<int>(i);
      if (PQgetisnull(result.get(), 0, c) != 0) {
        row.push_null();
      } else {
        pgstream::engine::parse_datum(scan.output[i].type.oid, PQgetvalue(result.get(), 0, c), row);
      }
    }
    return row;
  }

  // The engine's datum encoding stores float -0 as 0 (datum.hpp: canonical
  // bytes, so that = is byte equality): PostgreSQL's "-0" reads back as "0".
  static std::string engine_form(const std::string& server) { return server == "-0" ? "0" : server; }

  // Native result for one row, in server_value()'s form.
  static std::string native_value(const pgstream::engine::ScalarExpr& expr, pgstream::engine::RowRef row) {
    pgstream::engine::RowPacker out;
    try {
      expr.evaluate(row, out);
    } catch (const pgstream::Error& e) {
      return "ERROR " + e.sqlstate();
    }
    const pgstream::engine::DatumRef d = pgstream::engine::DatumRef::decode(out.row().data());
    if (d.is_null()) return "NULL";
    std::string text;
    pgstream::engine::format_datum(d, text);
    return text;
  }

  // Compiles `SELECT expr FROM t`, checks it is native, and compares every row.
  void check(const std::string& expr, const std::vector<int>& ids) {
    INFO("expression: " << expr);
    const LogicalPlan plan = pgstream::sql::compile_query(connection(), "SELECT " + expr + " AS v FROM t");
    REQUIRE(plan.root->kind == PlanKind::Project);
    const auto& scan = *plan.root->inputs.at(0);
    std::vector<ColumnBinding> input;
    for (const auto& col : scan.output) input.push_back(col.binding);
    const pgstream::sql::NativeScalar native = pgstream::sql::compile_scalar(*plan.root->exprs.at(0), input);
    INFO("unsupported: " << native.unsupported);
    REQUIRE(native.expr != nullptr);
    for (const int id : ids) {
      INFO("row id " << id);
      const pgstream::engine::RowPacker row = scan_row(scan, id);
      CHECK(native_value(*native.expr, row.row()) == engine_form(server_value(expr, id)));
    }
  }

  void check_all(const std::vector<std::string>& exprs) {
    const std::vector<int> ids = {1, 2, 3, 4, 5, 6, 7, 8};
    for (const std::string& expr : exprs) check(expr, ids);
  }

  // Compiles `SELECT id FROM t WHERE cond` and checks the native predicate
  // keeps exactly the rows the server returns.
  void check_filter(const std::string& cond) {
    INFO("condition: " << cond);
    const LogicalPlan plan = pgstream::sql::compile_query(connection(), "SELECT id FROM t WHERE " + cond);
    const pgstream::sql::PlanNode* filter = plan.root.get();
    while (filter->kind != PlanKind::Filter) filter = filter->inputs.at(0).get();
    const auto& scan = *filter->inputs.at(0);
    std::vector<ColumnBinding> input;
    for (const auto& col : scan.output) input.push_back(col.binding);
    const pgstream::sql::NativePredicate native = pgstream::sql::compile_predicate(*filter->predicate, input);
    INFO("unsupported: " << native.unsupported);
    REQUIRE(native.predicate != nullptr);
    std::string ours;
    for (int id = 1; id <= 8; ++id) {
      const pgstream::engine::RowPacker row = scan_row(scan, id);
      if (native.predicate->test(row.row()) == pgstream::engine::Truth::True)
        ours += std::to_string(id) + ",";
    }
    CHECK(
        ours ==
        query_value("SELECT coalesce(string_agg(id::text || ',', '' ORDER BY id), '') FROM t WHERE " + cond));
  }

  std::string unsupported(const std::string& expr) {
    const LogicalPlan plan = pgstream::sql::compile_query(connection(), "SELECT " + expr + " AS v FROM t");
    const auto& scan = *plan.root->inputs.at(0);
    std::vector<ColumnBinding> input;
    for (const auto& col : scan.output) input.push_back(col.binding);
    const pgstream::sql::NativeScalar native = pgstream::sql::compile_scalar(*plan.root->exprs.at(0), input);
    CHECK(native.expr == nullptr);
    return native.unsupported;
  }
};

}  // namespace

TEST_CASE_METHOD(EvalDatabase, "native integer arithmetic matches PostgreSQL, errors included", "[pg][sql]") {
  check_all({"i4 + 1",  "i4 - 1", "i4 * 2",       "i4 / i2", "i4 % i2", "-i4",    "i2 + i2", "i2 * 2::int2",
             "-i2",     "i8 + 1", "i8 * i8",      "i8 / -1", "i8 % -1", "-i8",    "i2 + i4", "i4 + i8",
             "i8 / i4", "i4 / 0", "i2 % 0::int2", "abs(i4)", "abs(i2)", "@ i8",   "abs(f8)", "abs(n)",
             "abs(n2)", "@ f4",   "i4 - i8",      "7 / i4",  "-7 % i4", "i2 / i2"});
}

TEST_CASE_METHOD(EvalDatabase, "native float and numeric arithmetic matches PostgreSQL", "[pg][sql]") {
  check_all({"f8 + 1",
             "f8 * f8",
             "f8 / 0",
             "f8 / f8",
             "-f8",
             "f4 + f4",
             "f4 * 10::real",
             "f4 / f4",
             "f8 * 1e-300::float8",
             "f8 - f8",
             "f4 + f8",
             "n + 1",
             "n - n2",
             "n * n2",
             "-n",
             "n2 * 1.5",
             "n + 0.001",
             "n / n2",
             "n2 / 3",
             "1 / 3.0",
             "n / 7",
             "n % n2",
             "n2 % 0.3",
             "n / 0",
             "n % 0",
             "'Infinity'::numeric / n",
             "'-Infinity'::numeric % n2",
             "n / 'Infinity'::numeric",
             "n % '-Infinity'::numeric",
             "n2 / 0.0001",
             "0.000001 / n2",
             "n2 / -99999999.99",
             "n * n"});
}

TEST_CASE_METHOD(EvalDatabase, "native casts match PostgreSQL", "[pg][sql]") {
  check_all({"f8::int4",
             "f8::int8",
             "f4::int2",
             "n::int4",
             "n::int8",
             "n2::int2",
             "i8::int4",
             "i4::int2",
             "i4::float8",
             "i8::float4",
             "n::float8",
             "n::float4",
             "f8::numeric",
             "f4::numeric",
             "i8::numeric",
             "n::numeric(10,2)",
             "n2::numeric(4,1)",
             "f8::real",
             "s::varchar",
             "v::text",
             "i2::numeric(3,0)",
             "d COLLATE \"C\" < 'b'",
             "lower(d COLLATE \"POSIX\")",
             "GREATEST(d COLLATE \"C\", 'b')",
             "s < d COLLATE \"C\"",
             "i4::bool",
             "b::int4",
             "b::bool",
             "dt::date",
             "ts::timestamp < ts",
             "(i4 > 0)::int4 + 1",
             "'12.50'::numeric + n2",
             "'it''s' || s",
             "E'a\\\\b' || s",
             "true AND b"});
}

TEST_CASE_METHOD(EvalDatabase, "native comparisons and logic match PostgreSQL", "[pg][sql]") {
  check_all({"i4 = i2",
             "i4 < i8",
             "f4 <= f8",
             "f8 > 0",
             "n >= n2",
             "n <> 0",
             "s < v",
             "s = 'abc'",
             "s > 'a'",
             "c = 'ab'",
             "b = true",
             "i4 IS DISTINCT FROM i2",
             "n IS NOT DISTINCT FROM n2",
             "b AND i4 > 0",
             "b OR i4 > 0",
             "NOT b",
             "i4 IS NULL",
             "s IS NOT NULL",
             "b IS TRUE",
             "b IS NOT FALSE",
             "b IS UNKNOWN",
             "i4 BETWEEN -1 AND 7",
             "i4 NOT BETWEEN i2 AND i8",
             "i4 IN (0, 7, NULL)",
             "i4 NOT IN (0, 7)",
             "s IN ('abc', 'Hello')",
             "f8 = 'NaN'",
             "f8 = 0",
             "n = 'NaN'::numeric",
             "dt < '2001-01-01'",
             "dt >= dt",
             "ts > '2020-03-05 00:00:00'",
             "ts = ts",
             "dt IS DISTINCT FROM '2002-09-27'",
             "u = '00000000-0000-0000-0000-000000000003'",
             "u < 'f0000000-0000-0000-0000-000000000000'",
             "GREATEST(dt, '2005-01-01')",
             "LEAST(ts, NULL)",
             "COALESCE(dt, '1999-12-31')",
             "CASE WHEN b THEN ts END",
             "dt IN ('2002-09-27', '1994-07-10')"});
}

TEST_CASE_METHOD(EvalDatabase, "native conditionals and text functions match PostgreSQL", "[pg][sql]") {
  check_all({"CASE WHEN i4 > 0 THEN 'pos' WHEN i4 < 0 THEN 'neg' ELSE 'zero' END",
             "CASE i2 WHEN 7 THEN n WHEN 0 THEN n2 END",
             "CASE dt WHEN '2002-09-27' THEN 'x' ELSE s END",
             "CASE WHEN i4 > 0 THEN dt ELSE '1990-01-01' END",
             "NULLIF(dt, '2002-09-27')",
             "COALESCE(i4, i2, 42)",
             "COALESCE(s, v)",
             "NULLIF(i4, 0)",
             "NULLIF(s, '')",
             "GREATEST(i4, 3, NULL)",
             "LEAST(n, n2)",
             "GREATEST(s, v)",
             "LEAST(f8, 0)",
             "s || v",
             "s || 'x'",
             "length(s)",
             "length(c)",
             "char_length(v)",
             "octet_length(s)",
             "substr(s, 2)",
             "substr(s, 2, 3)",
             "substr(s, -1, 3)",
             "substr(s, 1, i4)",
             "substring(v, 2, 2)",
             "s LIKE 'a%'",
             "s LIKE '%c%'",
             "s NOT LIKE '_b%'",
             "s LIKE 'a\\%b\\_c'",
             "s LIKE '%é%'",
             "s LIKE '_COLE%'",
             "s LIKE 'abc\\'",
             "v LIKE '%'",
             "s ILIKE 'ÉC%'",
             "s ILIKE '%CASE'",
             "s NOT ILIKE 'A%'",
             "lower(s)",
             "upper(v)",
             "trim(s)",
             "trim(both 'a' from s)",
             "ltrim(s, 'aH')",
             "rtrim(s, 'ße')",
             "btrim('  x ' || s || ' ')",
             "replace(s, 'a', 'XY')",
             "replace(s, '', 'z')",
             "position('b' in s)",
             "strpos(s, 'ß')",
             "strpos(s, '')",
             "split_part(s, ' ', 2)",
             "split_part(s, 'b', -1)",
             "split_part(s, '', 1)",
             "split_part(s, 'l', 0)",
             "split_part(v, 'b', i2)"});
}

TEST_CASE_METHOD(EvalDatabase, "seeded random integer and numeric expressions match PostgreSQL",
                 "[pg][sql]") {
  const unsigned seed = test_seed();
  std::printf("evaluator random seed: %u\n", seed);
  std::mt19937 rng(seed);
  INFO("seed " << seed);
  const std::vector<std::string> leaves = {"i2", "i4", "i8", "3", "-2", "n2", "n", "1.25", "0.5"};
  const std::vector<std::string> ops = {"+", "-", "*", "/", "%"};
  std::vector<std::string> exprs;
  const std::vector<std::string> fleaves = {"f8", "f4", "i4", "2.5::float8", "1e300::float8", "-3::real"};
  const std::vector<std::string> fops = {"+", "-", "*", "/"};
  // A random tree of `depth` binary operations over the leaves.
  const auto tree = [&](const std::vector<std::string>& leaf, const std::vector<std::string>& op, int depth) {
    std::string e = leaf[rng() % leaf.size()];
    for (int d = 0; d < depth; ++d) {
      std::string next = "(";
      next.append(e).append(" ").append(op[rng() % op.size()]).append(" ").append(leaf[rng() % leaf.size()]);
      e = next + ")";
    }
    return e;
  };
  exprs.reserve(20);
  for (int k = 0; k < 8; ++k) exprs.push_back(tree(fleaves, fops, 2));
  for (int k = 0; k < 12; ++k) exprs.push_back(tree(leaves, ops, 3));
  check_all(exprs);
}

TEST_CASE_METHOD(EvalDatabase, "seeded random numeric division and modulo match PostgreSQL", "[pg][sql]") {
  const unsigned seed = test_seed();
  std::printf("evaluator numeric division seed: %u\n", seed);
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  // A decimal literal with 0..12 integer digits and 0..8 fraction digits.
  const auto literal = [&] {
    std::string text = rng() % 2 == 0 ? "-" : "";
    const unsigned whole = rng() % 13;
    for (unsigned i = 0; i < std::max(whole, 1U); ++i) text.push_back(static_cast<char>('0' + rng() % 10));
    const unsigned frac = rng() % 9;
    if (frac > 0) text.push_back('.');
    for (unsigned i = 0; i < frac; ++i) text.push_back(static_cast<char>('0' + rng() % 10));
    return "(" + text + ")::numeric";
  };
  for (int k = 0; k < 40; ++k) {
    std::string expr = literal();
    expr.append(k % 2 == 0 ? " / " : " % ").append(literal());
    check(expr, {2});
  }
}

TEST_CASE_METHOD(EvalDatabase, "seeded random LIKE patterns match PostgreSQL", "[pg][sql]") {
  const unsigned seed = test_seed();
  std::printf("evaluator LIKE seed: %u\n", seed);
  INFO("seed " << seed);
  std::mt19937 rng(seed);
  const std::vector<std::string> pieces = {"a", "b", "c", "é", "ß", "%", "_", "\\", "l", " "};
  const std::vector<std::string> subjects = {"s", "v", "'abcabc'", "'aéb'", "'%_\\'"};
  std::vector<std::string> exprs;
  exprs.reserve(30);
  for (int k = 0; k < 30; ++k) {
    std::string pattern;
    for (unsigned n = rng() % 6; n > 0; --n) pattern += pieces[rng() % pieces.size()];
    std::string expr = subjects[rng() % subjects.size()];
    expr.append(k % 3 == 0 ? " NOT LIKE '" : " LIKE '").append(pattern).append("'");
    exprs.push_back(expr);
  }
  check_all(exprs);
}

TEST_CASE_METHOD(EvalDatabase, "native predicates keep the rows PostgreSQL keeps", "[pg][sql]") {
  for (const char* cond : {"i4 > 0", "NOT (i4 > 0)", "b", "NOT b", "b IS NOT TRUE", "s LIKE '%a%' OR n > 0",
                           "i4 IN (0, 7) AND s <> ''", "i4 NOT IN (0, NULL)", "COALESCE(b, false) = false",
                           "n2 BETWEEN 0 AND 5", "f8 BETWEEN i4 AND n", "CASE WHEN i2 > 0 THEN b END"}) {
    check_filter(cond);
  }
}

TEST_CASE_METHOD(EvalDatabase, "what the evaluator does not implement is reported, not guessed",
                 "[pg][sql]") {
  CHECK(unsupported("lower(d)").find("lower") != std::string::npos);
  CHECK(unsupported("d COLLATE \"ucs_basic\" < 'x'").find("under collation") != std::string::npos);
  CHECK(unsupported("s ~ 'a'").find('~') != std::string::npos);
  CHECK(unsupported("d ILIKE 'a%'").find("~~*") != std::string::npos);
  CHECK(unsupported("s ILIKE 'a%' COLLATE \"default\"").find("~~*") != std::string::npos);  // explicit wins
  CHECK(!unsupported("s::int4").empty());
  CHECK(!unsupported("i4::text").empty());
  CHECK(unsupported("s::name").find("truncation") != std::string::npos);
  CHECK(unsupported("ts > '2020-03-05 00:00'").find("literal") !=
        std::string::npos);  // parse_datum's subset  // the binder sends casts through text to the server
}
