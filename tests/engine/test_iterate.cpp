// WITH RECURSIVE reachability (transitive closure, UNION) and path counting
// (UNION ALL) maintained by Iterate, checked after every epoch against a
// naive fixpoint computed from scratch, on random edge insertions and
// deletions (cycles, diamonds, re-parenting; DAGs for UNION ALL).
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>
#include <tuple>

#include "pgstream/common/error.hpp"
#include "pgstream/engine/operators/iterate.hpp"
#include "pgstream/engine/operators/join.hpp"
#include "pgstream/engine/operators/map_filter.hpp"
#include "plan.hpp"

using namespace pgstream::engine;
using namespace pgstream::engine::testing;

namespace {

using Edge = std::pair<int, int>;

// reach(a, b): WITH RECURSIVE reach AS (SELECT a, b FROM edges UNION [ALL]
// SELECT r.a, e.b FROM reach r JOIN edges e ON r.b = e.a). With UNION ALL a
// row (a, b) appears once per path from a to b.
struct Closure {
  Dataflow df;
  NodeId edges = 0;
  NodeId out = 0;

  explicit Closure(IterateKind kind = IterateKind::Union, std::uint64_t max_iterations = 10'000) {
    edges = df.add_source("edges");
    NodeId base = df.add<MapFilter>({edges}, nullptr, column_projection({0, 1}));
    auto step = std::make_unique<Dataflow>();
    NodeId r = step->add_source("reach");
    NodeId e = step->add_source("edges");
    NodeId j = add_join(*step, r, e, {JoinKind::Inner, {1}, {0}, 2, 2});
    NodeId proj = step->add<MapFilter>({j}, nullptr, column_projection({0, 3}));
    IterateSpec spec{std::move(step), r, {e}, proj, kind, max_iterations};
    out = df.add<Iterate>({base, edges}, std::move(spec));
    df.output(out);
  }
};

void pack_edge(RowPacker& p, const Edge& e) {
  p.clear();
  p.push_int4(e.first);
  p.push_int4(e.second);
}

Multiset naive_closure(const std::multiset<Edge>& edges) {
  std::set<Edge> reach(edges.begin(), edges.end());
  for (bool grew = true; grew;) {
    grew = false;
    std::set<Edge> next = reach;
    for (const Edge& r : reach) {
      for (const Edge& e : edges) {
        if (r.second == e.first) grew = next.insert({r.first, e.second}).second || grew;
      }
    }
    reach = std::move(next);
  }
  Multiset out;
  RowPacker p;
  for (const Edge& e : reach) {
    pack_edge(p, e);
    add_to(out, p.row(), 1);
  }
  return out;
}

}  // namespace

TEST_CASE("recursion: deleting an edge inside a cycle removes what only it supported", "[engine][iterate]") {
  Closure c;
  Multiset acc;
  RowPacker p;
  auto apply = [&](const Edge& e, std::int64_t w) {
    pack_edge(p, e);
    c.df.input(c.edges).add(p.row(), w);
  };
  apply({1, 2}, 1);
  apply({2, 3}, 1);
  apply({3, 1}, 1);  // a cycle
  apply({3, 4}, 1);
  c.df.step();
  for (auto u : c.df.delta(c.out)) add_to(acc, u.row, u.weight);
  CHECK(acc.size() == 12);  // 1,2,3 reach each other (9) and 4 (3)
  apply({2, 3}, -1);        // break the cycle: self-support must not survive
  c.df.step();
  for (auto u : c.df.delta(c.out)) add_to(acc, u.row, u.weight);
  std::multiset<Edge> edges = {{1, 2}, {3, 1}, {3, 4}};
  CHECK(acc == naive_closure(edges));
  apply({2, 3}, 1);  // re-add, plus a diamond 1->5->3
  apply({1, 5}, 1);
  apply({5, 3}, 1);
  c.df.step();
  for (auto u : c.df.delta(c.out)) add_to(acc, u.row, u.weight);
  edges = {{1, 2}, {2, 3}, {3, 1}, {3, 4}, {1, 5}, {5, 3}};
  CHECK(acc == naive_closure(edges));
}

TEST_CASE("recursion matches a naive fixpoint under random edge changes", "[engine][iterate][property]") {
  int epochs_run = 0;
  for (std::uint64_t seed = 1; seed <= 150; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Closure c;
    Multiset acc;
    std::multiset<Edge> edges;
    std::vector<Edge> list;
    RowPacker p;
    for (int epoch = 0; epoch < 60; ++epoch) {
      int changes = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < changes; ++k) {
        if (!list.empty() && (rng() % 3 == 0 || list.size() > 10)) {
          std::size_t i = rng() % list.size();
          pack_edge(p, list[i]);
          c.df.input(c.edges).add(p.row(), -1);
          edges.erase(edges.find(list[i]));
          list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
          Edge e{static_cast<int>(rng() % 6), static_cast<int>(rng() % 6)};
          pack_edge(p, e);
          c.df.input(c.edges).add(p.row(), 1);
          edges.insert(e);
          list.push_back(e);
        }
      }
      c.df.step();
      for (auto u : c.df.delta(c.out)) add_to(acc, u.row, u.weight);
      ++epochs_run;
      Multiset expected = naive_closure(edges);
      if (acc != expected) {
        INFO("epoch " << epoch << "\nincremental:\n"
                      << describe(acc) << "reference:\n"
                      << describe(expected));
        REQUIRE(acc == expected);
      }
    }
  }
  CHECK(epochs_run == 9000);
}

namespace {

// PostgreSQL's UNION ALL loop, from scratch: W = edges; R = W; W = W ⋈ edges
// until W is empty (the edges must form a DAG).
Multiset naive_paths(const std::multiset<Edge>& edges) {
  std::map<Edge, std::int64_t> work;
  for (const Edge& e : edges) ++work[e];
  std::map<Edge, std::int64_t> all;
  while (!work.empty()) {
    std::map<Edge, std::int64_t> next;
    for (const auto& [r, n] : work) {
      all[r] += n;
      for (const Edge& e : edges) {
        if (r.second == e.first) next[{r.first, e.second}] += n;
      }
    }
    work = std::move(next);
  }
  Multiset out;
  RowPacker p;
  for (const auto& [e, n] : all) {
    pack_edge(p, e);
    add_to(out, p.row(), n);
  }
  return out;
}

}  // namespace

TEST_CASE("recursion with UNION ALL counts paths of random DAGs under edge changes",
          "[engine][iterate][property]") {
  int epochs_run = 0;
  for (std::uint64_t seed = 1; seed <= 100; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Closure c(IterateKind::UnionAll);
    Multiset acc;
    std::multiset<Edge> edges;
    std::vector<Edge> list;
    RowPacker p;
    for (int epoch = 0; epoch < 40; ++epoch) {
      int changes = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < changes; ++k) {
        if (!list.empty() && (rng() % 3 == 0 || list.size() > 14)) {
          std::size_t i = rng() % list.size();
          pack_edge(p, list[i]);
          c.df.input(c.edges).add(p.row(), -1);
          edges.erase(edges.find(list[i]));
          list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
          // Edges go from a lower node to a higher one: a DAG, with
          // duplicate edges (two parallel paths) now and then.
          int a = static_cast<int>(rng() % 7);
          Edge e{a, a + 1 + static_cast<int>(rng() % (7 - a))};
          pack_edge(p, e);
          c.df.input(c.edges).add(p.row(), 1);
          edges.insert(e);
          list.push_back(e);
        }
      }
      c.df.step();
      for (auto u : c.df.delta(c.out)) add_to(acc, u.row, u.weight);
      ++epochs_run;
      Multiset expected = naive_paths(edges);
      if (acc != expected) {
        INFO("epoch " << epoch << "\nincremental:\n"
                      << describe(acc) << "reference:\n"
                      << describe(expected));
        REQUIRE(acc == expected);
      }
    }
  }
  CHECK(epochs_run == 4000);
}

TEST_CASE("recursion with UNION ALL over a cycle fails the epoch with 54001 instead of looping",
          "[engine][iterate]") {
  RowPacker p;
  Closure c(IterateKind::UnionAll, 500);
  auto apply = [&](const Edge& e, std::int64_t w) {
    pack_edge(p, e);
    c.df.input(c.edges).add(p.row(), w);
  };
  apply({1, 2}, 1);
  apply({2, 3}, 1);
  apply({1, 3}, 1);
  c.df.step();
  Multiset acc;
  for (auto u : c.df.delta(c.out)) add_to(acc, u.row, u.weight);
  CHECK(acc == naive_paths({{1, 2}, {2, 3}, {1, 3}}));  // (1, 3) twice
  apply({3, 1}, 1);                                     // closes a cycle: PostgreSQL would never finish
  apply({1, 3}, -1);                                    // (with the shortcut, rows would grow as Fibonacci)
  try {
    c.df.step();
    FAIL("a cycle under UNION ALL must fail the epoch");
  } catch (const pgstream::Error& e) {
    CHECK(e.sqlstate() == "54001");
    CAPTURE(e.describe());
    CHECK(std::string(e.what()).find("500 iterations") != std::string::npos);
  }
  CHECK(c.df.failed());
  CHECK(c.df.delta(c.out).empty());
  // Two cycles through one node double the rows every round: the row bound
  // stops it long before weights could overflow.
  Closure d(IterateKind::UnionAll, UINT64_MAX);
  pack_edge(p, {1, 1});
  d.df.input(d.edges).add(p.row(), 2);
  try {
    d.df.step();
    FAIL("an exploding recursion must fail the epoch");
  } catch (const pgstream::Error& e) {
    CHECK(e.sqlstate() == "54001");
    CHECK(std::string(e.what()).find("rows in one epoch") != std::string::npos);
  }
}

namespace {

// walks(a, b, d): WITH RECURSIVE walks AS (SELECT a, b, d FROM edges UNION
// ALL SELECT w.a, e.b, w.d + 1 FROM walks w JOIN edges e ON w.b = e.a WHERE
// w.d < 4): finite on cyclic data, as the depth bounds it (edges' d is 1).
struct Walks {
  Dataflow df;
  NodeId edges = 0;
  NodeId out = 0;

  Walks() {
    edges = df.add_source("edges");
    auto step = std::make_unique<Dataflow>();
    NodeId r = step->add_source("walks");
    NodeId e = step->add_source("edges");
    NodeId f = step->add<MapFilter>({r}, std::make_shared<CompareConst>(2, CompareConst::Op::Less, 4),
                                    std::vector<Projection>{});
    NodeId j = add_join(*step, f, e, {JoinKind::Inner, {1}, {0}, 3, 3});
    std::vector<Projection> proj = {Projection::of_column(0), Projection::of_column(4),
                                    Projection::of_expr(std::make_shared<AddConst>(2, 1))};
    NodeId p = step->add<MapFilter>({j}, nullptr, std::move(proj));
    IterateSpec spec{std::move(step), r, {e}, p, IterateKind::UnionAll};
    out = df.add<Iterate>({edges, edges}, std::move(spec));
    df.output(out);
  }
};

void pack_walk(RowPacker& p, int a, int b, std::int64_t d) {
  p.clear();
  p.push_int4(a);
  p.push_int4(b);
  p.push_int8(d);
}

Multiset naive_walks(const std::multiset<Edge>& edges) {
  std::map<std::tuple<int, int, int>, std::int64_t> work;
  for (const Edge& e : edges) ++work[{e.first, e.second, 1}];
  Multiset out;
  RowPacker p;
  while (!work.empty()) {
    std::map<std::tuple<int, int, int>, std::int64_t> next;
    for (const auto& [w, n] : work) {
      const auto& [a, b, d] = w;
      pack_walk(p, a, b, d);
      add_to(out, p.row(), n);
      if (d >= 4) continue;
      for (const Edge& e : edges) {
        if (b == e.first) next[{a, e.second, d + 1}] += n;
      }
    }
    work = std::move(next);
  }
  return out;
}

}  // namespace

TEST_CASE("recursion with UNION ALL and a depth bound stays exact on cyclic data",
          "[engine][iterate][property]") {
  int epochs_run = 0;
  for (std::uint64_t seed = 1; seed <= 25; ++seed) {
    CAPTURE(seed);
    std::mt19937_64 rng(seed);
    Walks w;
    Multiset acc;
    std::multiset<Edge> edges;
    std::vector<Edge> list;
    RowPacker p;
    for (int epoch = 0; epoch < 40; ++epoch) {
      int changes = 1 + static_cast<int>(rng() % 3);
      for (int k = 0; k < changes; ++k) {
        bool remove = !list.empty() && (rng() % 3 == 0 || list.size() > 8);
        std::size_t i = remove ? rng() % list.size() : 0;
        Edge e = remove ? list[i] : Edge{static_cast<int>(rng() % 5), static_cast<int>(rng() % 5)};
        pack_walk(p, e.first, e.second, 1);
        w.df.input(w.edges).add(p.row(), remove ? -1 : 1);
        if (remove) {
          edges.erase(edges.find(e));
          list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
        } else {
          edges.insert(e);
          list.push_back(e);
        }
      }
      w.df.step();
      for (auto u : w.df.delta(w.out)) add_to(acc, u.row, u.weight);
      ++epochs_run;
      Multiset expected = naive_walks(edges);
      if (acc != expected) {
        INFO("epoch " << epoch << "\nincremental:\n"
                      << describe(acc) << "reference:\n"
                      << describe(expected));
        REQUIRE(acc == expected);
      }
    }
  }
  CHECK(epochs_run == 1000);
}

TEST_CASE(
    "recursion with UNION ALL: cutting a subtree off and closing a cycle inside it in one epoch stays finite",
    "[engine][iterate]") {
  // WITH RECURSIVE walk AS (SELECT a, b FROM edges WHERE a = 0 UNION ALL
  // SELECT w.a, e.b FROM walk w JOIN edges e ON w.b = e.a): PostgreSQL
  // finishes as long as no cycle is reachable from node 0.
  Dataflow df;
  NodeId edges = df.add_source("edges");
  NodeId base = df.add<MapFilter>({edges}, std::make_shared<CompareConst>(0, CompareConst::Op::Equal, 0),
                                  column_projection({0, 1}));
  auto step = std::make_unique<Dataflow>();
  NodeId r = step->add_source("walk");
  NodeId e = step->add_source("edges");
  NodeId j = add_join(*step, r, e, {JoinKind::Inner, {1}, {0}, 2, 2});
  NodeId proj = step->add<MapFilter>({j}, nullptr, column_projection({0, 3}));
  NodeId out =
      df.add<Iterate>({base, edges}, IterateSpec{std::move(step), r, {e}, proj, IterateKind::UnionAll, 1000});
  df.output(out);
  RowPacker p;
  Multiset acc;
  auto apply = [&](const Edge& edge, std::int64_t w) {
    pack_edge(p, edge);
    df.input(edges).add(p.row(), w);
  };
  auto run = [&] {
    df.step();
    for (auto u : df.delta(out)) add_to(acc, u.row, u.weight);
  };
  auto walk = [&](std::initializer_list<Edge> rows) {
    Multiset expected;
    for (const Edge& row : rows) {
      pack_edge(p, row);
      add_to(expected, p.row(), 1);
    }
    return expected;
  };
  apply({0, 1}, 1);
  apply({1, 2}, 1);
  apply({2, 3}, 1);
  run();
  CHECK(acc == walk({{0, 1}, {0, 2}, {0, 3}}));
  // 1 -> 2 goes and 3 -> 2 comes: 2 and 3 form a cycle no walk from 0 reaches.
  apply({1, 2}, -1);
  apply({3, 2}, 1);
  REQUIRE_NOTHROW(run());
  CHECK(acc == walk({{0, 1}}));
  // Reaching the cycle again is PostgreSQL's endless loop: 54001.
  apply({1, 3}, 1);
  try {
    run();
    FAIL("a reachable cycle under UNION ALL must fail the epoch");
  } catch (const pgstream::Error& error) {
    CHECK(error.sqlstate() == "54001");
  }
}
