// Dedicated operator tests for the classes of bugs TESTING.md lists.
#include <catch2/catch.hpp>
#include <optional>

#include "pgstream/common/error.hpp"
#include "pgstream/engine/operators/concat.hpp"
#include "pgstream/engine/operators/flat_map.hpp"
#include "pgstream/engine/operators/map_filter.hpp"
#include "pgstream/engine/operators/scalar_subquery.hpp"
#include "plan.hpp"

using namespace pgstream::engine;
using namespace pgstream::engine::testing;

namespace {}  // namespace

TEST_CASE("min/max survive deleting the current extreme, and a group losing its last row",
          "[engine][reduce]") {
  Dataflow df;
  NodeId src = df.add_source("t");
  ReduceSpec spec;
  spec.group_key = {0};
  spec.aggregates = {{AggregateKind::Min, 1, DatumKind::Int4}, {AggregateKind::Max, 1, DatumKind::Int4}};
  NodeId red = df.add<Reduce>({src}, spec);
  df.output(red);
  Sink sink;
  RowPacker p;
  for (int v : {5, 1, 9, 1}) df.input(src).add(ints(p, {1, v}).row(), 1);
  df.step();
  sink.take(df, red);
  CHECK(sink.str() == "(1, 1, 9) x1\n");
  df.input(src).add(ints(p, {1, 1}).row(), -1);  // one of two minima
  df.input(src).add(ints(p, {1, 9}).row(), -1);  // the maximum
  df.step();
  sink.take(df, red);
  CHECK(sink.str() == "(1, 1, 5) x1\n");
  df.input(src).add(ints(p, {1, 1}).row(), -1);  // the last minimum, a new max in the same epoch
  df.input(src).add(ints(p, {1, 7}).row(), 1);
  df.step();
  sink.take(df, red);
  CHECK(sink.str() == "(1, 5, 7) x1\n");
  df.input(src).add(ints(p, {1, 5}).row(), -1);
  df.input(src).add(ints(p, {1, 7}).row(), -1);
  df.step();
  sink.take(df, red);
  CHECK(sink.rows.empty());
}

TEST_CASE("a scalar aggregate over an empty table has count 0 and sum NULL", "[engine][reduce]") {
  Dataflow df;
  NodeId src = df.add_source("t");
  ReduceSpec spec;
  spec.aggregates = {{AggregateKind::CountStar},
                     {AggregateKind::Sum, 0, DatumKind::Int4},
                     {AggregateKind::Avg, 0, DatumKind::Int4}};
  NodeId red = df.add<Reduce>({src}, spec);
  df.output(red);
  Sink sink;
  df.step();
  sink.take(df, red);
  CHECK(sink.str() == "(0, NULL, NULL) x1\n");
  RowPacker p;
  df.input(src).add(ints(p, {1}).row(), 1);
  df.input(src).add(ints(p, {2}).row(), 1);
  df.step();
  sink.take(df, red);
  CHECK(sink.str() == "(2, 3, 1.5000000000000000) x1\n");
  df.input(src).add(ints(p, {1}).row(), -1);
  df.input(src).add(ints(p, {2}).row(), -1);
  df.step();
  sink.take(df, red);
  CHECK(sink.str() == "(0, NULL, NULL) x1\n");
}

TEST_CASE("FILTER and HAVING cross their thresholds both ways", "[engine][reduce]") {
  Dataflow df;
  NodeId src = df.add_source("t");
  // (g, v, v > 0 as the FILTER column)
  class Positive final : public ScalarExpr {
   public:
    void evaluate(RowRef in, RowPacker& out) const override {
      DatumRef d = in.at(1);
      if (d.is_null()) {
        out.push_null();
      } else {
        out.push_bool(d.as_int() > 0);
      }
    }
  };
  NodeId with_flag =
      df.add<MapFilter>({src}, nullptr,
                        std::vector<Projection>{Projection::of_column(0), Projection::of_column(1),
                                                Projection::of_expr(std::make_shared<Positive>())});
  ReduceSpec spec;
  spec.group_key = {0};
  AggregateSpec filtered{AggregateKind::CountStar};
  filtered.filter_column = 2;
  spec.aggregates = {filtered};
  NodeId red = df.add<Reduce>({with_flag}, spec);
  NodeId having = df.add<MapFilter>({red}, std::make_shared<CompareConst>(1, CompareConst::Op::Greater, 1),
                                    std::vector<Projection>{});
  df.output(having);
  Sink sink;
  RowPacker p;
  df.input(src).add(ints(p, {1, 5}).row(), 1);
  df.input(src).add(ints(p, {1, -5}).row(), 1);
  df.step();
  sink.take(df, having);
  CHECK(sink.rows.empty());
  df.input(src).add(ints(p, {1, 6}).row(), 1);
  df.step();
  sink.take(df, having);
  CHECK(sink.str() == "(1, 2) x1\n");
  df.input(src).add(ints(p, {1, 5}).row(), -1);
  df.step();
  sink.take(df, having);
  CHECK(sink.rows.empty());
}

TEST_CASE("outer joins lose and regain partners", "[engine][join]") {
  for (JoinKind kind : {JoinKind::Left, JoinKind::Right, JoinKind::Full}) {
    Dataflow df;
    NodeId l = df.add_source("l");
    NodeId r = df.add_source("r");
    NodeId j = add_join(df, l, r, {kind, {0}, {0}, 2, 2});
    df.output(j);
    Sink sink;
    RowPacker p;
    df.input(l).add(ints(p, {1, 10}).row(), 1);
    df.input(l).add(ints(p, {std::nullopt, 11}).row(), 1);
    df.input(r).add(ints(p, {std::nullopt, 20}).row(), 1);
    df.step();
    sink.take(df, j);
    std::string left_ext = "(1, 10, NULL, NULL) x1\n";
    std::string null_l = "(NULL, 11, NULL, NULL) x1\n";
    std::string null_r = "(NULL, NULL, NULL, 20) x1\n";
    bool keeps_left = kind != JoinKind::Right;
    bool keeps_right = kind != JoinKind::Left;
    // (describe() lists rows in byte order: NULL sorts before values.)
    CHECK(sink.str() ==
          (keeps_right ? null_r : std::string()) + (keeps_left ? null_l + left_ext : std::string()));
    // The first partner arrives: the NULL-extended row disappears.
    df.input(r).add(ints(p, {1, 21}).row(), 1);
    df.step();
    sink.take(df, j);
    CHECK(sink.rows.count(key_of(ints(p, {1, 10, 1, 21}).row())) == 1);
    RowPacker ext;
    ext.push_int4(1);
    ext.push_int4(10);
    ext.push_null();
    ext.push_null();
    CHECK(sink.rows.count(key_of(ext.row())) == 0);
    // The last partner leaves while another arrives and leaves in the same epoch.
    df.input(r).add(ints(p, {1, 21}).row(), -1);
    df.input(r).add(ints(p, {1, 22}).row(), 1);
    df.input(r).add(ints(p, {1, 22}).row(), -1);
    df.step();
    sink.take(df, j);
    CHECK(sink.rows.count(key_of(ext.row())) == (keeps_left ? 1 : 0));
    CHECK(sink.rows.count(key_of(ints(p, {1, 10, 1, 21}).row())) == 0);
  }
}

TEST_CASE("NOT IN with a NULL on the inner side yields no rows", "[engine][semi_join]") {
  Dataflow df;
  NodeId l = df.add_source("l");
  NodeId r = df.add_source("r");
  NodeId not_in = add_semi_join(df, l, r, {SemiJoinKind::NotIn, {0}, {0}});
  NodeId not_exists = add_semi_join(df, l, r, {SemiJoinKind::NotExists, {0}, {0}});
  df.output(not_in);
  df.output(not_exists);
  Sink in_sink;
  Sink ex_sink;
  RowPacker p;
  for (auto v :
       {std::optional<std::int32_t>(1), std::optional<std::int32_t>(2), std::optional<std::int32_t>()})
    df.input(l).add(ints(p, {v}).row(), 1);
  df.step();
  in_sink.take(df, not_in);
  ex_sink.take(df, not_exists);
  CHECK(in_sink.str() == "(NULL) x1\n(1) x1\n(2) x1\n");  // empty subquery: everything, NULL included
  df.input(r).add(ints(p, {1}).row(), 1);
  df.step();
  in_sink.take(df, not_in);
  ex_sink.take(df, not_exists);
  CHECK(in_sink.str() == "(2) x1\n");
  CHECK(ex_sink.str() == "(NULL) x1\n(2) x1\n");
  df.input(r).add(ints(p, {std::nullopt}).row(), 1);  // a NULL inside
  df.step();
  in_sink.take(df, not_in);
  ex_sink.take(df, not_exists);
  CHECK(in_sink.rows.empty());
  CHECK(ex_sink.str() == "(NULL) x1\n(2) x1\n");
  df.input(r).add(ints(p, {std::nullopt}).row(), -1);
  df.step();
  in_sink.take(df, not_in);
  CHECK(in_sink.str() == "(2) x1\n");
}

TEST_CASE("top-k with deletions of the top rows and ties", "[engine][top_k]") {
  Dataflow df;
  NodeId src = df.add_source("t");
  TopKSpec spec;
  spec.order = {SortKey::desc(0)};
  spec.limit = 2;
  NodeId top = df.add<TopK>({src}, spec);
  df.output(top);
  Sink sink;
  RowPacker p;
  for (auto [score, id] : std::vector<std::pair<int, int>>{{9, 1}, {9, 2}, {9, 3}, {5, 4}}) {
    df.input(src).add(ints(p, {score, id}).row(), 1);
  }
  df.step();
  sink.take(df, top);
  CHECK(sink.str() == "(9, 1) x1\n(9, 2) x1\n");  // ties broken deterministically
  df.input(src).add(ints(p, {9, 1}).row(), -1);
  df.step();
  sink.take(df, top);
  CHECK(sink.str() == "(9, 2) x1\n(9, 3) x1\n");
  df.input(src).add(ints(p, {9, 2}).row(), -1);
  df.input(src).add(ints(p, {9, 3}).row(), -1);
  df.step();
  sink.take(df, top);
  CHECK(sink.str() == "(5, 4) x1\n");
  df.input(src).add(ints(p, {5, 4}).row(), 1);  // a duplicate of the only row
  df.step();
  sink.take(df, top);
  CHECK(sink.str() == "(5, 4) x2\n");
}

TEST_CASE("arrangements are shared and report their size", "[engine][arrangement]") {
  Dataflow df;
  NodeId a = df.add_source("a");
  NodeId b = df.add_source("b");
  NodeId c = df.add_source("c");
  NodeId j1 = add_join(df, a, b, {JoinKind::Inner, {0}, {0}, 1, 1});
  NodeId j2 = add_join(df, a, c, {JoinKind::Inner, {0}, {0}, 1, 1});
  CHECK(df.arrangement_count() == 3);  // a by column 0 is shared
  df.output(j1);
  df.output(j2);
  RowPacker p;
  for (int i = 0; i < 1000; ++i) df.input(a).add(ints(p, {i % 10}).row(), 1);
  df.step();
  CHECK(df.state_bytes() > 0);
  Arrangement arr({0});
  for (int i = 0; i < 5000; ++i) arr.update(ints(p, {i % 7, i}).row(), 1);
  for (int i = 0; i < 5000; i += 2) arr.update(ints(p, {i % 7, i}).row(), -1);
  CHECK(arr.distinct_rows() == 2500);
  CHECK(arr.weight_at(ints(p, {3}).row()) == 357);
  CHECK(arr.bytes() >= arr.row_bytes());
}

TEST_CASE("a failed epoch emits nothing and fails the dataflow", "[engine][dataflow]") {
  class Divide final : public ScalarExpr {
   public:
    void evaluate(RowRef in, RowPacker& out) const override {
      if (in.at(0).as_int4() == 0)
        throw pgstream::Error(pgstream::ErrorKind::Database, "division by zero", {.sqlstate = "22012"});
      out.push_int4(100 / in.at(0).as_int4());
    }
  };
  Dataflow df;
  NodeId src = df.add_source("t");
  NodeId m = df.add<MapFilter>({src}, nullptr,
                               std::vector<Projection>{Projection::of_expr(std::make_shared<Divide>())});
  df.output(m);
  RowPacker p;
  df.input(src).add(ints(p, {5}).row(), 1);
  df.step();
  CHECK(df.delta(m).size() == 1);
  df.input(src).add(ints(p, {0}).row(), 1);
  CHECK_THROWS_AS(df.step(), pgstream::Error);
  CHECK(df.failed());
  CHECK(df.delta(m).empty());
  CHECK_THROWS_AS(df.step(), pgstream::Error);
}

TEST_CASE("a dataflow feeds another in the same epoch (stream table over stream table)",
          "[engine][dataflow]") {
  Dataflow first;
  NodeId src = first.add_source("t");
  NodeId distinct = first.add<Concat>({src});
  first.output(distinct);
  Dataflow second;
  NodeId upstream = second.add_source("first");
  ReduceSpec spec;
  spec.aggregates = {{AggregateKind::CountStar}};
  NodeId count = second.add<Reduce>({upstream}, spec);
  second.output(count);
  Sink sink;
  RowPacker p;
  for (int epoch = 0; epoch < 3; ++epoch) {
    first.input(src).add(ints(p, {epoch}).row(), 1);
    first.step();
    second.input(upstream).add_all(first.delta(distinct));
    second.step();
    sink.take(second, count);
  }
  RowPacker expected;
  expected.push_int8(3);
  CHECK(sink.rows.count(key_of(expected.row())) == 1);
}

TEST_CASE("a scalar subquery with two rows raises 21000; its value change re-derives the outer rows",
          "[engine][scalar_subquery]") {
  Dataflow df;
  NodeId outer = df.add_source("outer");
  NodeId sub = df.add_source("sub");
  NodeId s = add_scalar_subquery(df, outer, sub);
  df.output(s);
  Sink sink;
  RowPacker p;
  df.input(outer).add(ints(p, {1}).row(), 1);
  df.step();
  sink.take(df, s);
  CHECK(sink.str() == "(1, NULL) x1\n");
  df.input(sub).add(ints(p, {7}).row(), 1);
  df.step();
  sink.take(df, s);
  CHECK(sink.str() == "(1, 7) x1\n");
  df.input(sub).add(ints(p, {8}).row(), 1);
  try {
    df.step();
    FAIL("expected an error");
  } catch (const pgstream::Error& e) {
    CHECK(e.sqlstate() == "21000");
  }
}

TEST_CASE("unnest expands arrays, NULL elements included", "[engine][flat_map]") {
  Dataflow df;
  NodeId src = df.add_source("t");
  NodeId f = df.add<FlatMap>({src}, std::make_shared<Unnest>(0));
  df.output(f);
  RowPacker elements;
  elements.push_int4(1);
  elements.push_null();
  RowPacker p;
  p.push_array(type_oid::kInt4, elements.row());
  df.input(src).add(p.row(), 2);
  df.step();
  Sink sink;
  sink.take(df, f);
  CHECK(sink.str() == "({1,NULL}, NULL) x2\n({1,NULL}, 1) x2\n");
}

TEST_CASE("string_agg, array_agg, json_agg with ORDER BY; var_samp and var_pop as PostgreSQL prints them",
          "[engine][reduce]") {
  Dataflow df;
  NodeId src = df.add_source("t");
  ReduceSpec spec;
  AggregateSpec names{AggregateKind::StringAgg, 1, DatumKind::Text};
  names.order_column = 0;
  names.order_descending = true;
  names.delimiter = ", ";
  AggregateSpec ids{AggregateKind::ArrayAgg, 0, DatumKind::Int4};
  AggregateSpec json{AggregateKind::JsonAgg, 1, DatumKind::Text};
  json.order_column = 0;
  spec.aggregates = {names,
                     ids,
                     json,
                     {AggregateKind::VarSamp, 0, DatumKind::Int4},
                     {AggregateKind::VarPop, 0, DatumKind::Int4}};
  NodeId red = df.add<Reduce>({src}, spec);
  df.output(red);
  Sink sink;
  RowPacker p;
  for (int i = 1; i <= 4; ++i) {
    p.clear();
    p.push_int4(i);
    p.push_text(std::string(1, static_cast<char>('a' + i - 1)));
    df.input(src).add(p.row(), 1);
  }
  df.step();
  sink.take(df, red);
  CHECK(
      sink.str() ==
      "('d, c, b, a', {1,2,3,4}, [\"a\", \"b\", \"c\", \"d\"], 1.6666666666666667, 1.2500000000000000) x1\n");
}

TEST_CASE("ordered-set aggregates: mode, percentile_disc, percentile_cont", "[engine][reduce]") {
  Dataflow df;
  NodeId src = df.add_source("t");
  ReduceSpec spec;
  AggregateSpec disc{AggregateKind::PercentileDisc, 0, DatumKind::Int4};
  AggregateSpec cont{AggregateKind::PercentileCont, 0, DatumKind::Int4};
  spec.aggregates = {{AggregateKind::Mode, 0, DatumKind::Int4}, disc, cont};
  NodeId red = df.add<Reduce>({src}, spec);
  df.output(red);
  Sink sink;
  RowPacker p;
  for (int v : {3, 1, 2, 3, 2, 4}) df.input(src).add(ints(p, {v}).row(), 1);
  df.step();
  sink.take(df, red);
  CHECK(sink.str() == "(2, 2, 2.5) x1\n");    // ties in mode: the smallest value
  df.input(src).add(ints(p, {2}).row(), -1);  // now 3 is the mode
  df.step();
  sink.take(df, red);
  CHECK(sink.str() == "(3, 3, 3) x1\n");
}
