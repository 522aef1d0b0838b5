// WITH RECURSIVE reachability (transitive closure) maintained by Iterate,
// checked after every epoch against a naive fixpoint computed from scratch,
// on random edge insertions and deletions (cycles, diamonds, re-parenting).
#include <catch2/catch.hpp>
#include <random>
#include <set>

#include "pgstream/engine/operators/iterate.hpp"
#include "pgstream/engine/operators/join.hpp"
#include "pgstream/engine/operators/map_filter.hpp"
#include "plan.hpp"

using namespace pgstream::engine;
using namespace pgstream::engine::testing;

namespace {

using Edge = std::pair<int, int>;

// reach(a, b): WITH RECURSIVE reach AS (SELECT a, b FROM edges UNION
// SELECT r.a, e.b FROM reach r JOIN edges e ON r.b = e.a).
struct Closure {
  Dataflow df;
  NodeId edges = 0;
  NodeId out = 0;

  Closure() {
    edges = df.add_source("edges");
    NodeId base = df.add<MapFilter>({edges}, nullptr, column_projection({0, 1}));
    auto step = std::make_unique<Dataflow>();
    NodeId r = step->add_source("reach");
    NodeId e = step->add_source("edges");
    NodeId j = add_join(*step, r, e, {JoinKind::Inner, {1}, {0}, 2, 2});
    NodeId proj = step->add<MapFilter>({j}, nullptr, column_projection({0, 3}));
    IterateSpec spec{std::move(step), r, {e}, proj};
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
