// Keys: values SQL calls equal but that are written differently (interval
// '1 mon' = '30 days' = '720:00:00', numeric 1.0 = 1.00) group, deduplicate,
// join and intersect as one value.
#include <algorithm>
#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

#include "pgstream/engine/datum_io.hpp"
#include "pgstream/engine/operators/distinct.hpp"
#include "plan.hpp"

using namespace pgstream::engine;
using namespace pgstream::engine::testing;

namespace {

// A one-column row of `type` parsed from PostgreSQL's text.
RowPacker& value(RowPacker& p, std::uint32_t type, std::string_view text) {
  p.clear();
  parse_datum(type, text, p);
  return p;
}

}  // namespace

TEST_CASE("equal intervals written differently are one key", "[engine][keys]") {
  RowPacker p;
  SECTION("GROUP BY and DISTINCT emit one row, in justified form") {
    Dataflow df;
    NodeId src = df.add_source("t");
    ReduceSpec spec;
    spec.group_key = {0};
    spec.aggregates = {{AggregateKind::CountStar, 0, DatumKind::Int8}};
    NodeId red = df.add<Reduce>({src}, spec);
    NodeId dis = df.add<Distinct>({src});
    df.output(red);
    df.output(dis);
    Sink groups;
    Sink distinct;
    for (const char* v :
         {"30 days", "1 mon", "720:00:00", "1 day", "24:00:00", "-1 days +25:00:00", "01:00:00"}) {
      df.input(src).add(value(p, type_oid::kInterval, v).row(), 1);
    }
    df.step();
    groups.take(df, red);
    distinct.take(df, dis);
    CHECK(groups.str() == "(1 mon, 3) x1\n(1 day, 2) x1\n(01:00:00, 2) x1\n");
    CHECK(distinct.str() == "(1 mon) x1\n(1 day) x1\n(01:00:00) x1\n");
    // Deleting the representative first seen keeps the group (two more rows).
    df.input(src).add(value(p, type_oid::kInterval, "30 days").row(), -1);
    df.input(src).add(value(p, type_oid::kInterval, "24:00:00").row(), -1);
    df.input(src).add(value(p, type_oid::kInterval, "1 day").row(), -1);
    df.step();
    groups.take(df, red);
    distinct.take(df, dis);
    CHECK(groups.str() == "(1 mon, 2) x1\n(01:00:00, 2) x1\n");
    CHECK(distinct.str() == "(1 mon) x1\n(01:00:00) x1\n");
  }
  SECTION("a join matches them and keeps each side's own value") {
    Dataflow df;
    NodeId l = df.add_source("l");
    NodeId r = df.add_source("r");
    NodeId j = add_join(df, l, r, {JoinKind::Inner, {0}, {0}, 1, 1});
    df.output(j);
    df.input(l).add(value(p, type_oid::kInterval, "1 mon").row(), 1);
    df.input(r).add(value(p, type_oid::kInterval, "30 days").row(), 1);
    df.input(r).add(value(p, type_oid::kInterval, "720:00:00").row(), 1);
    df.input(r).add(value(p, type_oid::kInterval, "31 days").row(), 1);
    df.step();
    Sink sink;
    sink.take(df, j);
    CHECK(sink.str() == "(1 mon, 30 days) x1\n(1 mon, 720:00:00) x1\n");
  }
  SECTION("INTERSECT and EXCEPT ALL count them as one value") {
    Dataflow df;
    NodeId l = df.add_source("l");
    NodeId r = df.add_source("r");
    NodeId inter = df.add<SetOperation>({l, r}, SetOperationKind::Intersect);
    NodeId except = df.add<SetOperation>({l, r}, SetOperationKind::ExceptAll);
    df.output(inter);
    df.output(except);
    df.input(l).add(value(p, type_oid::kInterval, "1 mon").row(), 2);
    df.input(l).add(value(p, type_oid::kInterval, "1 day").row(), 1);
    df.input(r).add(value(p, type_oid::kInterval, "30 days").row(), 1);
    df.step();
    Sink si;
    Sink se;
    si.take(df, inter);
    se.take(df, except);
    CHECK(si.str() == "(1 mon) x1\n");
    CHECK(se.str() == "(1 mon) x1\n(1 day) x1\n");
  }
}

TEST_CASE("justified interval keys keep one sign and fall back when out of range", "[engine][keys]") {
  RowPacker p;
  RowPacker key;
  std::vector<std::uint32_t> col = {0};
  auto justified = [&](std::string_view text) {
    key.clear();
    key.pack_key(value(p, type_oid::kInterval, text).row(), col);
    return debug_string(key.row());
  };
  CHECK(justified("1 mon -01:00:00") == "(29 days 23:00:00)");  // justify_interval's result
  CHECK(justified("-1 mons +01:00:00") == "(-29 days -23:00:00)");
  CHECK(justified("45 days 36:00:00") == "(1 mon 16 days 12:00:00)");
  CHECK(justified("-00:00:01") == "(-00:00:01)");
  // The months would overflow int32: kept as written (still one key per writing).
  CHECK(justified("178956970 years 7 mons 2147483647 days") == "(178956970 years 7 mons 2147483647 days)");
}

TEST_CASE("numeric 1.0 and 1.00 are one key in GROUP BY, DISTINCT, joins and set operations",
          "[engine][keys]") {
  RowPacker p;
  Dataflow df;
  NodeId l = df.add_source("l");
  NodeId r = df.add_source("r");
  ReduceSpec spec;
  spec.group_key = {0};
  spec.aggregates = {{AggregateKind::CountStar, 0, DatumKind::Int8}};
  NodeId red = df.add<Reduce>({l}, spec);
  NodeId dis = df.add<Distinct>({l});
  NodeId j = add_join(df, l, r, {JoinKind::Inner, {0}, {0}, 1, 1});
  NodeId inter = df.add<SetOperation>({l, r}, SetOperationKind::IntersectAll);
  for (NodeId n : {red, dis, j, inter}) df.output(n);
  df.input(l).add(value(p, type_oid::kNumeric, "1.0").row(), 1);
  df.input(l).add(value(p, type_oid::kNumeric, "1.00").row(), 1);
  df.input(r).add(value(p, type_oid::kNumeric, "1").row(), 1);
  df.step();
  Sink sr;
  Sink sd;
  Sink sj;
  Sink si;
  sr.take(df, red);
  sd.take(df, dis);
  sj.take(df, j);
  si.take(df, inter);
  CHECK(sr.str() == "(1, 2) x1\n");
  CHECK(sd.str() == "(1) x1\n");
  CHECK(sj.str() == "(1.0, 1) x1\n(1.00, 1) x1\n");
  CHECK(si.str() == "(1) x1\n");
}

namespace {

// Runs `epochs` epochs, each inserting 1,000 rows (key, value) with fresh
// keys and deleting the previous epoch's rows; returns the operator's
// state bytes after each epoch. `sides` sources feed the operator.
std::vector<std::size_t> churn(Dataflow& df, const std::vector<NodeId>& sources, const Operator& op,
                               int epochs) {
  std::vector<std::size_t> bytes;
  RowPacker p;
  auto rows = [&](int epoch, std::int64_t weight) {
    for (int i = 0; i < 1000; ++i) {
      p.clear();
      p.push_int8(static_cast<std::int64_t>(epoch) * 1000 + i);
      p.push_int4(i % 7);
      for (NodeId s : sources) df.input(s).add(p.row(), weight);
    }
  };
  for (int epoch = 0; epoch < epochs; ++epoch) {
    rows(epoch, 1);
    if (epoch > 0) rows(epoch - 1, -1);
    df.step();
    bytes.push_back(op.state_bytes());
  }
  return bytes;
}

// The state after the first 20 epochs bounds it for the rest of the run.
void check_bounded(const std::vector<std::size_t>& bytes) {
  std::size_t early = *std::max_element(bytes.begin(), bytes.begin() + 20);
  std::size_t late = *std::max_element(bytes.begin() + 20, bytes.end());
  CAPTURE(early, late, bytes.back());
  CHECK(late <= early + early / 4);  // without reclaim: ~10x early (200,000 keys, not ~2,000)
  CHECK(late < std::size_t{2000} * 400);
}

}  // namespace

TEST_CASE("keys whose count returns to 0 are forgotten: state stays bounded under churn", "[engine][keys]") {
  constexpr int kEpochs = 200;
  SECTION("distinct") {
    Dataflow df;
    NodeId src = df.add_source("t");
    auto op = std::make_unique<Distinct>();
    const Operator& ref = *op;
    NodeId out = df.add(std::move(op), {src});
    df.output(out);
    check_bounded(churn(df, {src}, ref, kEpochs));
  }
  SECTION("set operations") {
    for (auto kind : {SetOperationKind::Intersect, SetOperationKind::ExceptAll}) {
      Dataflow df;
      NodeId l = df.add_source("l");
      NodeId r = df.add_source("r");
      auto op = std::make_unique<SetOperation>(kind);
      const Operator& ref = *op;
      NodeId out = df.add(std::move(op), {l, r});
      df.output(out);
      check_bounded(churn(df, {l, r}, ref, kEpochs));
    }
  }
  SECTION("group by, with a min multiset") {
    Dataflow df;
    NodeId src = df.add_source("t");
    ReduceSpec spec;
    spec.group_key = {0};
    spec.aggregates = {{AggregateKind::CountStar}, {AggregateKind::Min, 1, DatumKind::Int4}};
    auto op = std::make_unique<Reduce>(spec);
    const Operator& ref = *op;
    NodeId out = df.add(std::move(op), {src});
    df.output(out);
    check_bounded(churn(df, {src}, ref, kEpochs));
  }
}

TEST_CASE("a forgotten key inserted again starts from zero", "[engine][keys]") {
  RowPacker p;
  auto row = [&](std::int32_t k, std::int32_t v) -> RowRef {
    p.clear();
    p.push_int4(k);
    p.push_int4(v);
    return p.row();
  };
  Dataflow df;
  NodeId l = df.add_source("l");
  NodeId r = df.add_source("r");
  ReduceSpec spec;
  spec.group_key = {0};
  spec.aggregates = {{AggregateKind::CountStar}, {AggregateKind::Max, 1, DatumKind::Int4}};
  NodeId red = df.add<Reduce>({l}, spec);
  NodeId dis = df.add<Distinct>({l});
  NodeId exc = df.add<SetOperation>({l, r}, SetOperationKind::ExceptAll);
  for (NodeId n : {red, dis, exc}) df.output(n);
  Sink sr;
  Sink sd;
  Sink se;
  auto step = [&] {
    df.step();
    sr.take(df, red);
    sd.take(df, dis);
    se.take(df, exc);
  };
  df.input(l).add(row(1, 10), 2);
  df.input(l).add(row(2, 20), 1);
  df.input(r).add(row(1, 10), 1);
  step();
  CHECK(sr.str() == "(1, 2, 10) x1\n(2, 1, 20) x1\n");
  CHECK(se.str() == "(1, 10) x1\n(2, 20) x1\n");
  // Everything goes: every key is forgotten.
  df.input(l).add(row(1, 10), -2);
  df.input(l).add(row(2, 20), -1);
  df.input(r).add(row(1, 10), -1);
  step();
  CHECK(sr.rows.empty());
  CHECK(sd.rows.empty());
  CHECK(se.rows.empty());
  // Other keys take the freed ids; the old keys come back with fresh state.
  for (int k = 3; k < 40; ++k) df.input(l).add(row(k, k), 1);
  df.input(l).add(row(1, 5), 1);
  df.input(l).add(row(2, 20), 1);
  df.input(r).add(row(2, 20), 1);
  step();
  for (int k = 3; k < 40; ++k) df.input(l).add(row(k, k), -1);
  df.input(l).add(row(1, 10), 1);
  step();
  CHECK(sr.str() == "(1, 2, 10) x1\n(2, 1, 20) x1\n");
  CHECK(sd.str() == "(1, 5) x1\n(1, 10) x1\n(2, 20) x1\n");
  CHECK(se.str() == "(1, 5) x1\n(1, 10) x1\n");
}
