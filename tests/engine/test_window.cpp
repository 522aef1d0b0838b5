// Window frames against PostgreSQL 15's own results, deletions at frame
// edges, and the memory of the ordered per-partition state (TopK, Window).
//
// The expected tables were produced by `psql -At` on PostgreSQL 15.18 (the
// queries are quoted above each table); each test builds one Window per
// column (one frame each) and compares its output, printed the way psql
// prints it, with that column of the table.
#include <algorithm>
#include <catch2/catch.hpp>
#include <optional>
#include <sstream>

#include "plan.hpp"

using namespace pgstream::engine;
using namespace pgstream::engine::testing;

namespace {

using Value = std::optional<std::int32_t>;

// A row as `psql -At` prints it: columns separated by '|', NULL empty.
std::string psql_line(RowRef row) {
  std::string out;
  for (std::size_t i = 0; i < row.arity(); ++i) {
    if (i > 0) out += '|';
    if (!row.at(i).is_null()) format_datum(row.at(i), out);
  }
  return out;
}

std::vector<std::string> psql_lines(const Multiset& rows) {
  std::vector<std::string> out;
  for (const auto& [bytes, w] : rows) {
    for (std::int64_t i = 0; i < w; ++i) out.push_back(psql_line(row_of(bytes)));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The input columns and column `k` of the function columns of a psql table.
std::vector<std::string> project(const std::string& table, std::size_t inputs, std::size_t k) {
  std::vector<std::string> out;
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty()) continue;
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (;;) {
      std::size_t bar = line.find('|', start);
      fields.push_back(line.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
    std::string projected;
    for (std::size_t i = 0; i < inputs; ++i) projected += fields.at(i) + "|";
    out.push_back(projected + fields.at(inputs + k));
  }
  std::sort(out.begin(), out.end());
  return out;
}

// One epoch of integer rows: (values, weight).
using Epoch = std::vector<std::pair<std::vector<Value>, std::int64_t>>;

// Runs each spec over the epochs and checks column k of expected[e] after
// epoch e; also checks the incremental result against the reference.
void check_frames(const std::vector<WindowSpec>& specs, const std::vector<Epoch>& epochs,
                  const std::vector<std::string>& expected, std::size_t inputs) {
  for (std::size_t k = 0; k < specs.size(); ++k) {
    Dataflow df;
    NodeId src = df.add_source("t");
    NodeId win = df.add<Window>({src}, specs[k]);
    df.output(win);
    Multiset source;
    Multiset result;
    RowPacker p;
    Plan plan;
    plan.kind = Plan::Kind::Window;
    plan.window = specs[k];
    plan.inputs = {std::make_shared<Plan>()};
    for (std::size_t e = 0; e < epochs.size(); ++e) {
      for (const auto& [values, w] : epochs[e]) {
        p.clear();
        for (auto v : values) {
          if (v) {
            p.push_int4(*v);
          } else {
            p.push_null();
          }
        }
        df.input(src).add(p.row(), w);
        add_to(source, p.row(), w);
      }
      df.step();
      for (auto u : df.delta(win)) add_to(result, u.row, u.weight);
      INFO("function column " << k << ", epoch " << e);
      CHECK(psql_lines(result) == project(expected[e], inputs, k));
      CHECK(psql_lines(evaluate(plan, {source})) == project(expected[e], inputs, k));
    }
  }
}

WindowFunction agg(AggregateKind kind, std::uint32_t column = 0) {
  WindowFunction fn;
  fn.kind = WindowFunctionKind::Aggregate;
  fn.aggregate = {kind, column, DatumKind::Int4};
  return fn;
}
WindowFunction value(WindowFunctionKind kind, std::uint32_t column, std::int64_t n = 1) {
  WindowFunction fn;
  fn.kind = kind;
  fn.column = column;
  fn.argument = n;
  return fn;
}

WindowSpec frame(std::vector<SortKey> order, WindowFrame unit, FrameBound start, FrameBound end,
                 WindowFunction fn, FrameExclusion exclusion = FrameExclusion::NoOthers) {
  WindowSpec spec;
  spec.order = std::move(order);
  spec.frame = unit;
  spec.frame_start = std::move(start);
  spec.frame_end = std::move(end);
  spec.functions = {std::move(fn)};
  spec.exclusion = exclusion;
  return spec;
}

// RANGE offset bounds: the offset as an int8, numeric or float8 datum.
FrameBound range(FrameBoundKind kind, std::int64_t n) {
  RowPacker p;
  p.push_int8(n);
  return {kind, 0, Row(p.row())};
}
FrameBound range_numeric(FrameBoundKind kind, const char* n) {
  RowPacker p;
  p.push_numeric(Numeric::parse(n));
  return {kind, 0, Row(p.row())};
}
FrameBound range_float(FrameBoundKind kind, double n) {
  RowPacker p;
  p.push_float8(n);
  return {kind, 0, Row(p.row())};
}

using B = FrameBound;
constexpr auto P = FrameBoundKind::Preceding;
constexpr auto F = FrameBoundKind::Following;

// t(p int, a int, b int), then: delete (1,1,10), (1,3,50), (2,8,6); insert (1,4,45), (1,NULL,90).
const Epoch kFirst = {{{1, 1, 10}, 1}, {{1, 1, 20}, 1}, {{1, 2, 30}, 1}, {{1, 3, 40}, 1},
                      {{1, 3, 50}, 1}, {{1, 3, 60}, 1}, {{1, 5, 70}, 1}, {{1, std::nullopt, 80}, 1},
                      {{2, 7, 5}, 1},  {{2, 8, 6}, 1}};
const Epoch kSecond = {
    {{1, 1, 10}, -1}, {{1, 3, 50}, -1}, {{2, 8, 6}, -1}, {{1, 4, 45}, 1}, {{1, std::nullopt, 90}, 1}};

// The same rows of partition 1 without the p column.
Epoch without_p(const Epoch& epoch) {
  Epoch out;
  for (const auto& [values, w] : epoch) {
    if (values[0] == 1) out.push_back({{values[1], values[2]}, w});
  }
  return out;
}

}  // namespace

TEST_CASE("ROWS frames with offsets match PostgreSQL, also after deletions at the frame edges",
          "[engine][window]") {
  // select p,a,b, <each function> over (partition by p order by a,b rows between ...) from t
  const std::vector<std::string> expected = {
      R"(1|1|10|30|0|70|20|20||10|10|15.0000000000000000
1|1|20|60|1|90|30|30|20|20|20|20.0000000000000000
1|2|30|90|2|110|40|40|20|30|30|30.0000000000000000
1|3|40|120|2|130|50|50|20|40|40|40.0000000000000000
1|3|50|150|2|150|60|60|20|50|50|50.0000000000000000
1|3|60|180|2|80|70|70|20|60|60|60.0000000000000000
1|5|70|210|2||80|80|20|70|70|70.0000000000000000
1||80|150|2|||80|20|80|80|75.0000000000000000
2|7|5|11|0||6|6||5|5|5.5000000000000000
2|8|6|11|1|||6|6|6|6|5.5000000000000000
)",
      R"(1|1|20|50|0|100|30|30||20|20|25.0000000000000000
1|2|30|90|1|105|40|40|30|30|30|30.0000000000000000
1|3|40|130|2|115|60|60|30|40|40|43.3333333333333333
1|3|60|145|2|150|45|45|30|45|60|48.3333333333333333
1|4|45|175|2|170|70|70|30|45|60|58.3333333333333333
1|5|70|195|2|90|80|80|30|70|70|65.0000000000000000
1||80|240|2||90|90|30|80|80|80.0000000000000000
1||90|170|2|||90|30|90|90|85.0000000000000000
2|7|5|5|0|||5||5|5|5.0000000000000000
)"};
  const std::vector<SortKey> order = {SortKey::asc(1), SortKey::asc(2)};
  const auto rows = WindowFrame::Rows;
  std::vector<WindowSpec> specs = {
      frame(order, rows, B::preceding(1), B::following(1), agg(AggregateKind::Sum, 2)),
      frame(order, rows, B::preceding(2), B::preceding(1), agg(AggregateKind::Count, 2)),
      frame(order, rows, B::following(2), B::following(3), agg(AggregateKind::Sum, 2)),
      frame(order, rows, B::following(1), B::unbounded_following(), value(WindowFunctionKind::FirstValue, 2)),
      frame(order, rows, B::current_row(), B::following(1), value(WindowFunctionKind::LastValue, 2)),
      frame(order, rows, B::unbounded_preceding(), B::current_row(),
            value(WindowFunctionKind::NthValue, 2, 2)),
      frame(order, rows, B::current_row(), B::following(2), agg(AggregateKind::Min, 2)),
      frame(order, rows, B::preceding(1), B::current_row(), agg(AggregateKind::Max, 2)),
      frame(order, rows, B::preceding(1), B::following(1), agg(AggregateKind::Avg, 2)),
  };
  for (WindowSpec& s : specs) s.partition = {0};
  check_frames(specs, {kFirst, kSecond}, expected, 3);
}

TEST_CASE("ROWS frames over peers match PostgreSQL where the peers' order does not matter",
          "[engine][window]") {
  // select a,b, count(*) over w, sum(a) over w, first_value(a) over w from t where p=1
  //   window w as (order by a rows between 1 preceding and 1 following)
  const std::vector<std::string> expected = {R"(1|10|2|2|1
1|20|3|4|1
2|30|3|6|1
3|40|3|8|2
3|50|3|9|3
3|60|3|11|3
5|70|3|8|3
|80|2|5|5
)",
                                             R"(1|20|2|3|1
2|30|3|6|1
3|40|3|8|2
3|60|3|10|3
4|45|3|12|3
5|70|3|9|4
|80|3|5|5
|90|2||
)"};
  const std::vector<SortKey> order = {SortKey::asc(0)};
  const auto rows = WindowFrame::Rows;
  std::vector<WindowSpec> specs = {
      frame(order, rows, B::preceding(1), B::following(1), agg(AggregateKind::CountStar)),
      frame(order, rows, B::preceding(1), B::following(1), agg(AggregateKind::Sum, 0)),
      frame(order, rows, B::preceding(1), B::following(1), value(WindowFunctionKind::FirstValue, 0)),
  };
  check_frames(specs, {without_p(kFirst), without_p(kSecond)}, expected, 2);
}

TEST_CASE("RANGE frames without offsets include the current row's peers, as in PostgreSQL",
          "[engine][window]") {
  const std::vector<std::string> expected = {R"(1|10|360|8|30|1
1|20|360|8|30|1
2|30|330|8|30|2
3|40|300|8|150|3
3|50|300|8|150|3
3|60|300|8|150|3
5|70|150|8|70|5
|80|80|8|80|
)",
                                             R"(1|20|435|8|20|1
2|30|415|8|30|2
3|40|385|8|100|3
3|60|385|8|100|3
4|45|285|8|45|4
5|70|240|8|70|5
|80|170|8|170|
|90|170|8|170|
)"};
  const std::vector<SortKey> order = {SortKey::asc(0)};
  const auto range_unit = WindowFrame::Range;
  std::vector<WindowSpec> specs = {
      frame(order, range_unit, B::current_row(), B::unbounded_following(), agg(AggregateKind::Sum, 1)),
      frame(order, range_unit, B::unbounded_preceding(), B::unbounded_following(),
            agg(AggregateKind::CountStar)),
      frame(order, range_unit, B::current_row(), B::current_row(), agg(AggregateKind::Sum, 1)),
      frame(order, range_unit, B::unbounded_preceding(), B::current_row(),
            value(WindowFunctionKind::LastValue, 0)),
  };
  check_frames(specs, {without_p(kFirst), without_p(kSecond)}, expected, 2);
}

TEST_CASE("GROUPS frames match PostgreSQL, including empty frames", "[engine][window]") {
  const std::vector<std::string> expected = {R"(1|10|60|4|20|
1|20|60|4|20|
2|30|210|4|30|1
3|40|250|2|60|1
3|50|250|2|60|1
3|60|250|2|60|1
5|70|300|1|70|2
|80|150|0|80|3
)",
                                             R"(1|20|50|3|20|
2|30|150|3|30|1
3|40|175|2|60|1
3|60|175|2|60|1
4|45|215|3|60|2
5|70|285|2|70|3
|80|240|0|90|4
|90|240|0|90|4
)"};
  const std::vector<SortKey> order = {SortKey::asc(0)};
  const auto groups = WindowFrame::Groups;
  std::vector<WindowSpec> specs = {
      frame(order, groups, B::preceding(1), B::following(1), agg(AggregateKind::Sum, 1)),
      frame(order, groups, B::following(1), B::following(2), agg(AggregateKind::CountStar)),
      frame({SortKey::desc(0)}, groups, B::current_row(), B::following(1), agg(AggregateKind::Max, 1)),
      frame(order, groups, B::preceding(2), B::preceding(1), value(WindowFunctionKind::FirstValue, 0)),
  };
  check_frames(specs, {without_p(kFirst), without_p(kSecond)}, expected, 2);
}

TEST_CASE("RANGE frames with offsets match PostgreSQL (NULLs only near NULLs, DESC, NULLS FIRST)",
          "[engine][window]") {
  const std::vector<std::string> expected = {R"(1|10|60|0|60|6
1|20|60|0|60|6
2|30|210|2|180|4
3|40|180|3|150|4
3|50|180|3|150|4
3|60|180|3|150|4
5|70|70|3|70|1
|80|80|1|80|1
)",
                                             R"(1|20|50|0|50|4
2|30|150|1|130|4
3|40|175|2|145|4
3|60|175|2|145|4
4|45|215|3|115|2
5|70|115|3|70|1
|80|170|2|170|2
|90|170|2|170|2
)"};
  const std::vector<SortKey> order = {SortKey::asc(0)};
  const auto range_unit = WindowFrame::Range;
  std::vector<WindowSpec> specs = {
      frame(order, range_unit, range(P, 1), range(F, 1), agg(AggregateKind::Sum, 1)),
      frame(order, range_unit, range(P, 2), range(P, 1), agg(AggregateKind::CountStar)),
      frame({SortKey::desc(0)}, range_unit, range(P, 1), B::current_row(), agg(AggregateKind::Sum, 1)),
      frame({SortKey{0, false, true}}, range_unit, B::current_row(), range(F, 2),
            agg(AggregateKind::CountStar)),
  };
  check_frames(specs, {without_p(kFirst), without_p(kSecond)}, expected, 2);
}

TEST_CASE("EXCLUDE CURRENT ROW / GROUP / TIES match PostgreSQL", "[engine][window]") {
  const std::vector<std::string> expected = {R"(1|10|350|330|340|0|2|30
1|20|340|330|350|0|2|30
2|30|330|330|360|0|1|60
3|40|320|210|250|0|1|70
3|50|310|210|260|0|1|70
3|60|300|210|270|0|1|70
5|70|290|290|360|0|1|80
|80|280|280|360|0|1|80
)",
                                             R"(1|20|415|415|435|0|2|30
2|30|405|405|435|0|1|60
3|40|395|335|375|0|1|45
3|60|375|335|395|0|1|60
4|45|390|390|435|0|1|70
5|70|365|365|435|0|1|90
|80|355|265|345|0|1|80
|90|345|265|355|0|1|90
)"};
  const std::vector<SortKey> order = {SortKey::asc(0)};
  const auto all_before = B::unbounded_preceding();
  const auto all_after = B::unbounded_following();
  std::vector<WindowSpec> specs = {
      frame(order, WindowFrame::Rows, all_before, all_after, agg(AggregateKind::Sum, 1),
            FrameExclusion::CurrentRow),
      frame(order, WindowFrame::Range, all_before, all_after, agg(AggregateKind::Sum, 1),
            FrameExclusion::Group),
      frame(order, WindowFrame::Range, all_before, all_after, agg(AggregateKind::Sum, 1),
            FrameExclusion::Ties),
      frame(order, WindowFrame::Groups, B::current_row(), B::current_row(), agg(AggregateKind::CountStar),
            FrameExclusion::Group),
      frame(order, WindowFrame::Range, all_before, all_after, value(WindowFunctionKind::FirstValue, 0),
            FrameExclusion::Group),
      frame(order, WindowFrame::Groups, B::preceding(1), B::following(1), agg(AggregateKind::Max, 1),
            FrameExclusion::Ties),
  };
  check_frames(specs, {without_p(kFirst), without_p(kSecond)}, expected, 2);
}

TEST_CASE("RANGE offsets over numeric and float8 match PostgreSQL (scales, NaN, infinities)",
          "[engine][window]") {
  auto run = [](const WindowSpec& spec, const std::vector<RowPacker>& rows) {
    Dataflow df;
    NodeId src = df.add_source("t");
    NodeId win = df.add<Window>({src}, spec);
    df.output(win);
    for (const RowPacker& r : rows) df.input(src).add(r.row(), 1);
    df.step();
    Multiset out;
    for (auto u : df.delta(win)) add_to(out, u.row, u.weight);
    return psql_lines(out);
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  // select x, sum(x) over (order by x range between 0.5 preceding and 0.25 following),
  //   count(*) over (order by x desc range between 1 preceding and 0.5 following) from n
  std::vector<RowPacker> numerics(5);
  const char* xs[] = {"1.5", "2.0", "2.25", "4"};
  for (int i = 0; i < 4; ++i) numerics[static_cast<std::size_t>(i)].push_numeric(Numeric::parse(xs[i]));
  numerics[4].push_null();
  WindowFunction sum = agg(AggregateKind::Sum, 0);
  sum.aggregate.input = DatumKind::Numeric;
  CHECK(run(frame({SortKey::asc(0)}, WindowFrame::Range, range_numeric(P, "0.5"), range_numeric(F, "0.25"),
                  sum),
            numerics) == sorted({"1.5|1.5", "2.0|5.75", "2.25|4.25", "4|4", "|"}));
  CHECK(run(frame({SortKey::desc(0)}, WindowFrame::Range, range_numeric(P, "1"), range_numeric(F, "0.5"),
                  agg(AggregateKind::CountStar)),
            numerics) == sorted({"1.5|3", "2.0|3", "2.25|2", "4|1", "|1"}));

  // select y, count(*) over (order by y range between 1 preceding and 'Infinity' following),
  //   count(*) over (... 0.5 preceding and 0.5 following),
  //   sum(y) over (... 'Infinity' preceding and current row) from f
  std::vector<RowPacker> floats(6);
  const double inf = std::numeric_limits<double>::infinity();
  const double ys[] = {1, 1.5, inf, -inf, std::numeric_limits<double>::quiet_NaN(), 3};
  for (int i = 0; i < 6; ++i) floats[static_cast<std::size_t>(i)].push_float8(ys[i]);
  const std::vector<SortKey> order = {SortKey::asc(0)};
  CHECK(run(frame(order, WindowFrame::Range, range_float(P, 1), range_float(F, inf),
                  agg(AggregateKind::CountStar)),
            floats) == sorted({"-Infinity|5", "1|4", "1.5|4", "3|2", "Infinity|1", "NaN|1"}));
  CHECK(run(frame(order, WindowFrame::Range, range_float(P, 0.5), range_float(F, 0.5),
                  agg(AggregateKind::CountStar)),
            floats) == sorted({"-Infinity|1", "1|2", "1.5|2", "3|1", "Infinity|1", "NaN|1"}));
  WindowFunction fsum = agg(AggregateKind::Sum, 0);
  fsum.aggregate.input = DatumKind::Float8;
  CHECK(run(frame(order, WindowFrame::Range, range_float(P, inf), B::current_row(), fsum), floats) ==
        sorted({"-Infinity|-Infinity", "1|-Infinity", "1.5|-Infinity", "3|-Infinity", "Infinity|NaN",
                "NaN|NaN"}));
}

TEST_CASE("ordered partition state stays flat under churn: fresh partitions in, old ones out",
          "[engine][window][top_k]") {
  // 200 epochs; each inserts 1,000 rows in 250 fresh partitions (4 rows
  // each) and deletes the previous epoch's rows. The live state is always
  // 1,000 rows, so the state must not grow with the 50,000 partitions seen.
  for (bool window : {false, true}) {
    Dataflow df;
    NodeId src = df.add_source("t");
    NodeId node = 0;
    if (window) {
      WindowSpec spec;
      spec.partition = {0};
      spec.order = {SortKey::asc(1)};
      spec.frame = WindowFrame::Rows;
      spec.frame_start = FrameBound::preceding(1);
      spec.functions = {agg(AggregateKind::Sum, 1)};
      node = df.add<Window>({src}, spec);
    } else {
      TopKSpec spec;
      spec.partition = {0};
      spec.order = {SortKey::desc(1)};
      spec.limit = 2;
      node = df.add<TopK>({src}, spec);
    }
    df.output(node);
    Multiset result;
    RowPacker p;
    std::size_t warm = 0;
    std::size_t peak = 0;
    auto rows_of = [&](int epoch, std::int64_t w) {
      for (int i = 0; i < 1000; ++i) df.input(src).add(ints(p, {epoch * 250 + i / 4, i % 4, epoch}).row(), w);
    };
    for (int epoch = 0; epoch < 200; ++epoch) {
      rows_of(epoch, 1);
      if (epoch > 0) rows_of(epoch - 1, -1);
      df.step();
      for (auto u : df.delta(node)) add_to(result, u.row, u.weight);
      // Compaction makes the size saw-tooth: compare the peaks of the two halves.
      if (epoch >= 10 && epoch < 100) warm = std::max(warm, df.state_bytes());
      if (epoch >= 100) peak = std::max(peak, df.state_bytes());
    }
    INFO((window ? "window" : "top_k") << ": peak bytes in epochs 10-99 " << warm << ", in 100-199 " << peak);
    CHECK(warm > 0);
    CHECK(peak <= warm * 11 / 10);
    CHECK(peak < 200 * 1024);  // 1,000 live rows of ~20 bytes, with slack for two epochs' worth
    std::int64_t rows = 0;
    for (const auto& [bytes, w] : result) rows += w;
    CHECK(rows == (window ? 1000 : 500));  // only the last epoch's partitions remain
    // Everything deleted: the state shrinks back to almost nothing.
    rows_of(199, -1);
    df.step();
    CHECK(df.state_bytes() < 16 * 1024);
  }
}

TEST_CASE("top-k per partition with OFFSET survives deleting the top rows, in a large partition too",
          "[engine][top_k]") {
  Plan plan;
  plan.kind = Plan::Kind::TopK;
  plan.top_k.partition = {0};
  plan.top_k.order = {SortKey::desc(1)};
  plan.top_k.limit = 3;
  plan.top_k.offset = 1;
  plan.inputs = {std::make_shared<Plan>()};
  Dataflow df;
  NodeId src = df.add_source("t");
  NodeId top = build(plan, df, {src});
  df.output(top);
  Multiset source;
  Multiset result;
  RowPacker p;
  auto change = [&](int part, int score, int id, std::int64_t w) {
    ints(p, {part, score, id});
    df.input(src).add(p.row(), w);
    add_to(source, p.row(), w);
  };
  // Partition 0: 5,000 rows (scores with ties); partitions 1..20: a few rows.
  for (int i = 0; i < 5000; ++i) change(0, i % 1000, i, 1);
  for (int part = 1; part <= 20; ++part) {
    for (int i = 0; i < part % 5; ++i) change(part, i, i, 1);
  }
  for (int epoch = 0; epoch < 30; ++epoch) {
    if (epoch > 0) {
      // Delete the current top rows of partition 0 (all ties of the best
      // score), and the best row of a few small partitions; add some rows back.
      int best = 999 - (epoch - 1);
      for (int i = best; i < 5000; i += 1000) change(0, best, i, -1);
      for (int part = 1 + epoch % 5; part <= 20; part += 5) {
        int n = part % 5;
        ints(p, {part, n - 1, n - 1});
        if (n > 0 && source.count(key_of(p.row())) > 0) change(part, n - 1, n - 1, -1);
      }
      change(0, 500, 100000 + epoch, 1);
      change(epoch % 20 + 1, 7, 1000 + epoch, 1);
      change(epoch % 20 + 1, 7, 1000 + epoch, 1);  // a duplicate in the same epoch
    }
    df.step();
    for (auto u : df.delta(top)) add_to(result, u.row, u.weight);
    INFO("epoch " << epoch);
    REQUIRE(describe(result) == describe(evaluate(plan, {source})));
  }
  // The top of partition 0 after 29 deletions of its best scores: 970 x5.
  ints(p, {0, 970, 970});
  CHECK(result.count(key_of(p.row())) == 0);  // offset 1 skips the first tie
  ints(p, {0, 970, 1970});
  CHECK(result.count(key_of(p.row())) == 1);
}

TEST_CASE("RANGE offsets over date, timestamp and time match PostgreSQL (month ends, infinities)",
          "[engine][window]") {
  auto offset = [](FrameBoundKind kind, std::int32_t months, std::int32_t days, std::int64_t micros) {
    RowPacker p;
    p.push_interval(Interval{micros, days, months});
    return FrameBound{kind, 0, Row(p.row())};
  };
  auto count = [](const WindowSpec& base, const std::vector<RowPacker>& rows) {
    Dataflow df;
    NodeId src = df.add_source("t");
    NodeId win = df.add<Window>({src}, base);
    df.output(win);
    for (const RowPacker& r : rows) df.input(src).add(r.row(), 1);
    df.step();
    Multiset out;
    for (auto u : df.delta(win)) add_to(out, u.row, u.weight);
    return psql_lines(out);
  };
  auto sorted = [](std::vector<std::string> v) {
    std::sort(v.begin(), v.end());
    return v;
  };
  constexpr std::int64_t hour = 3600LL * 1000000;
  // set timezone = 'UTC'; d(x date, ts timestamp): the same instants as dates and timestamps.
  struct Day {
    int y, m, d, h;
  };
  const Day days[] = {
      {2024, 1, 31, 12}, {2024, 2, 29, 11}, {2024, 3, 1, 0}, {2024, 3, 31, 12}, {2024, 4, 30, 13}};
  std::vector<RowPacker> dates(8);
  std::vector<RowPacker> stamps(8);
  for (std::size_t i = 0; i < 5; ++i) {
    std::int32_t day =
        days_from_civil(days[i].y, static_cast<unsigned>(days[i].m), static_cast<unsigned>(days[i].d));
    dates[i].push_date(day);
    stamps[i].push_timestamp(static_cast<std::int64_t>(day) * kMicrosPerDay + days[i].h * hour);
  }
  dates[5].push_date(INT32_MAX);
  dates[6].push_null();
  dates[7].push_date(INT32_MIN);
  stamps[5].push_timestamp(INT64_MAX);
  stamps[6].push_null();
  stamps[7].push_timestamp(INT64_MIN);
  const auto r = WindowFrame::Range;
  const auto star = agg(AggregateKind::CountStar);
  // count(*) over (order by x range between '1 mon' preceding and current row)
  CHECK(count(frame({SortKey::asc(0)}, r, offset(P, 1, 0, 0), B::current_row(), star), dates) ==
        sorted({"-infinity|1", "2024-01-31|1", "2024-02-29|2", "2024-03-01|2", "2024-03-31|3", "2024-04-30|2",
                "infinity|1", "|1"}));
  // count(*) over (order by x desc range between '1 mon 1 day' preceding and '1 day' following)
  CHECK(count(frame({SortKey::desc(0)}, r, offset(P, 1, 1, 0), offset(F, 0, 1, 0), star), dates) ==
        sorted({"-infinity|1", "2024-01-31|3", "2024-02-29|2", "2024-03-01|3", "2024-03-31|2", "2024-04-30|1",
                "infinity|1", "|1"}));
  // count(*) over (order by ts range between current row and '1 mon' following)
  CHECK(count(frame({SortKey::asc(0)}, r, B::current_row(), offset(F, 1, 0, 0), star), stamps) ==
        sorted({"-infinity|1", "2024-01-31 12:00:00|2", "2024-02-29 11:00:00|2", "2024-03-01 00:00:00|2",
                "2024-03-31 12:00:00|1", "2024-04-30 13:00:00|1", "infinity|1", "|1"}));
  // count(*) over (order by ts range between '29 days 1 hour' preceding and '12 hours' preceding)
  CHECK(
      count(frame({SortKey::asc(0)}, r, offset(P, 0, 29, hour), offset(P, 0, 0, 12 * hour), star), stamps) ==
      sorted({"-infinity|1", "2024-01-31 12:00:00|0", "2024-02-29 11:00:00|1", "2024-03-01 00:00:00|1",
              "2024-03-31 12:00:00|0", "2024-04-30 13:00:00|0", "infinity|1", "|1"}));
  // tt(t time): count(*) over (order by t range between '1 hour' preceding and '1 hour' following)
  std::vector<RowPacker> times(5);
  const std::int64_t minutes[] = {30, 60, 720, 1410, 1439};
  for (std::size_t i = 0; i < 5; ++i) times[i].push_time(minutes[i] * 60 * 1000000);
  CHECK(count(frame({SortKey::asc(0)}, r, offset(P, 0, 0, hour), offset(F, 0, 0, hour), star), times) ==
        sorted({"00:30:00|2", "01:00:00|2", "12:00:00|1", "23:30:00|2", "23:59:00|2"}));
}

TEST_CASE("a window over one large partition stays right while blocks split, empty and merge",
          "[engine][window]") {
  Plan plan;
  plan.kind = Plan::Kind::Window;
  plan.window.order = {SortKey::asc(0)};
  plan.window.frame = WindowFrame::Rows;
  plan.window.frame_start = FrameBound::preceding(2);
  plan.window.frame_end = FrameBound::following(1);
  plan.window.functions = {agg(AggregateKind::Sum, 1), value(WindowFunctionKind::LastValue, 1)};
  plan.inputs = {std::make_shared<Plan>()};
  Dataflow df;
  NodeId src = df.add_source("t");
  NodeId win = build(plan, df, {src});
  df.output(win);
  Multiset source;
  Multiset result;
  RowPacker p;
  auto change = [&](int key, std::int64_t w) {
    ints(p, {key, key % 7});
    df.input(src).add(p.row(), w);
    add_to(source, p.row(), w);
  };
  for (int epoch = 0; epoch < 6; ++epoch) {
    switch (epoch) {
      case 0:
        for (int k = 0; k < 1500; ++k) change(k, 1);
        break;
      case 1:  // a run longer than a block goes, from the middle
        for (int k = 300; k < 1000; ++k) change(k, -1);
        break;
      case 2:  // every other row of what is left
        for (int k = 0; k < 1500; k += 2) {
          if (k < 300 || k >= 1000) change(k, -1);
        }
        break;
      case 3:  // duplicates and rows back in the hole
        for (int k = 500; k < 1700; k += 3) change(k, 2);
        break;
      case 4:
        for (int k = 0; k < 1700; ++k) {
          ints(p, {k, k % 7});
          auto it = source.find(key_of(p.row()));
          if (it != source.end() && k % 5 != 0) change(k, -it->second);
        }
        break;
      default:
        for (int k = 0; k < 1700; ++k) {
          ints(p, {k, k % 7});
          auto it = source.find(key_of(p.row()));
          if (it != source.end()) change(k, -it->second);
        }
    }
    df.step();
    for (auto u : df.delta(win)) add_to(result, u.row, u.weight);
    INFO("epoch " << epoch);
    REQUIRE(describe(result) == describe(evaluate(plan, {source})));
  }
  CHECK(result.empty());
  CHECK(df.state_bytes() < 16 * 1024);
}
