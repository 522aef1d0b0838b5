// bench_engine: changes per second through each operator on one core, and
// bytes of state per input row. Prints a table, then one JSON line.
#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/engine/operators/distinct.hpp"
#include "pgstream/engine/operators/join.hpp"
#include "pgstream/engine/operators/map_filter.hpp"
#include "pgstream/engine/operators/reduce.hpp"
#include "pgstream/engine/operators/semi_join.hpp"
#include "pgstream/engine/operators/top_k.hpp"

namespace pe = pgstream::engine;

namespace {

constexpr std::size_t kBatch = 10000;  // changes per epoch
constexpr std::int64_t kCustomers = 20000;

// orders(id int8, customer_id int8, qty int4, amount numeric(10,2), status text, created timestamp)
void pack_order(pe::RowPacker& p, std::int64_t id, std::mt19937_64& rng) {
  static const char* statuses[] = {"new", "paid", "shipped", "returned"};
  p.clear();
  p.push_int8(id);
  p.push_int8(static_cast<std::int64_t>(rng() % kCustomers));
  p.push_int4(static_cast<std::int32_t>(rng() % 10));
  p.push_numeric(
      pe::Numeric::parse(std::to_string(rng() % 100000 / 100) + "." + std::to_string(10 + rng() % 90)));
  p.push_text(statuses[rng() % 4]);
  p.push_timestamp(static_cast<std::int64_t>(rng() % 1000000000000ULL));
}

// customers(id int8, name text, region text)
void pack_customer(pe::RowPacker& p, std::int64_t id, std::uint64_t version) {
  static const char* regions[] = {"emea", "amer", "apac"};
  p.clear();
  p.push_int8(id);
  p.push_text("customer-" + std::to_string(id));
  p.push_text(regions[(static_cast<std::uint64_t>(id) + version) % 3]);
}

std::vector<pe::ZSet> order_batches(std::size_t batches, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<pe::ZSet> out(batches);
  pe::RowPacker p;
  std::int64_t id = 0;
  for (auto& b : out) {
    for (std::size_t i = 0; i < kBatch; ++i) {
      pack_order(p, id++, rng);
      b.add(p.row(), 1);
    }
  }
  return out;
}

class QtyAbove final : public pe::Predicate {
 public:
  [[nodiscard]] pe::Truth test(pe::RowRef row) const override {
    pe::DatumRef d = row.at(2);
    if (d.is_null()) return pe::Truth::Unknown;
    return d.as_int4() > 2 ? pe::Truth::True : pe::Truth::False;
  }
};

struct Result {
  std::string name;
  double per_second = 0;
  double state_bytes_per_row = 0;
};

// Runs every batch through the dataflow, timing staging + step.
double drive(pe::Dataflow& df, const std::vector<std::pair<pe::NodeId, const std::vector<pe::ZSet>*>>& inputs,
             std::size_t* changes) {
  std::size_t batches = inputs[0].second->size();
  *changes = 0;
  auto start = std::chrono::steady_clock::now();
  for (std::size_t b = 0; b < batches; ++b) {
    for (const auto& [node, data] : inputs) {
      df.input(node).add_all((*data)[b]);
      *changes += (*data)[b].size();
    }
    df.step();
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Result single_input(const std::string& name, const std::vector<pe::ZSet>& batches,
                    const std::function<pe::NodeId(pe::Dataflow&, pe::NodeId)>& make) {
  pe::Dataflow df;
  pe::NodeId src = df.add_source("orders");
  df.output(make(df, src));
  std::size_t changes = 0;
  double secs = drive(df, {{src, &batches}}, &changes);
  return {name, static_cast<double>(changes) / secs,
          static_cast<double>(df.state_bytes()) / static_cast<double>(changes)};
}

void single_operator_benches(const std::vector<pe::ZSet>& orders, const std::vector<pe::ZSet>& half,
                             const std::vector<pe::ZSet>& quarter, std::vector<Result>& results) {
  results.push_back(single_input("filter+project", orders, [](pe::Dataflow& df, pe::NodeId in) {
    return df.add<pe::MapFilter>({in}, std::make_shared<QtyAbove>(), pe::column_projection({0, 1, 3}));
  }));
  results.push_back(single_input("group-by sum/count", half, [](pe::Dataflow& df, pe::NodeId in) {
    pe::ReduceSpec spec;
    spec.group_key = {1};
    spec.aggregates = {{pe::AggregateKind::CountStar}, {pe::AggregateKind::Sum, 2, pe::DatumKind::Int4}};
    return df.add<pe::Reduce>({in}, spec);
  }));
  results.push_back(single_input("group-by sum(numeric)/avg", quarter, [](pe::Dataflow& df, pe::NodeId in) {
    pe::ReduceSpec spec;
    spec.group_key = {1};
    spec.aggregates = {{pe::AggregateKind::Sum, 3, pe::DatumKind::Numeric},
                       {pe::AggregateKind::Avg, 3, pe::DatumKind::Numeric}};
    return df.add<pe::Reduce>({in}, spec);
  }));
  results.push_back(single_input("group-by min/max", quarter, [](pe::Dataflow& df, pe::NodeId in) {
    pe::ReduceSpec spec;
    spec.group_key = {1};
    spec.aggregates = {{pe::AggregateKind::Min, 5, pe::DatumKind::Timestamp},
                       {pe::AggregateKind::Max, 5, pe::DatumKind::Timestamp}};
    return df.add<pe::Reduce>({in}, spec);
  }));
  results.push_back(single_input("distinct", half, [](pe::Dataflow& df, pe::NodeId in) {
    pe::NodeId p = df.add<pe::MapFilter>({in}, nullptr, pe::column_projection({1, 4}));
    return df.add<pe::Distinct>({p});
  }));
  results.push_back(single_input("top-k (per customer, 3)", quarter, [](pe::Dataflow& df, pe::NodeId in) {
    pe::TopKSpec spec;
    spec.partition = {1};
    spec.order = {pe::SortKey::desc(3)};
    spec.limit = 3;
    return df.add<pe::TopK>({in}, spec);
  }));
}

}  // namespace

int main(int argc, char** argv) {
  // `bench_engine join` runs only the join (for profiling).
  const bool join_only = argc > 1 && std::string(argv[1]) == "join";
  const std::vector<pe::ZSet> orders = order_batches(join_only ? 100 : 200, 1);  // 2M rows
  std::vector<Result> results;
  const std::vector<pe::ZSet> half(orders.begin(), orders.begin() + 100);
  const std::vector<pe::ZSet> quarter(orders.begin(), orders.begin() + 50);
  if (!join_only) single_operator_benches(orders, half, quarter, results);

  // Two-way join, both inputs changing in every epoch: 10,000 new orders and
  // 500 customers updated (a delete and an insert each), joined on
  // customer_id; every customer update re-derives all of its orders' rows.
  std::vector<pe::ZSet> customers(100);
  {
    pe::RowPacker p;
    std::mt19937_64 rng(7);
    for (std::int64_t id = 0; id < kCustomers; ++id) {
      pack_customer(p, id, 0);
      customers[0].add(p.row(), 1);
    }
    std::vector<std::uint64_t> version(kCustomers, 0);
    for (std::size_t b = 1; b < customers.size(); ++b) {
      for (std::size_t i = 0; i < kBatch / 20; ++i) {
        auto id = static_cast<std::int64_t>(rng() % kCustomers);
        pack_customer(p, id, version[static_cast<std::size_t>(id)]);
        customers[b].add(p.row(), -1);
        pack_customer(p, id, ++version[static_cast<std::size_t>(id)]);
        customers[b].add(p.row(), 1);
      }
    }
  }
  double join_rate = 0;
  double join_state = 0;
  {
    pe::Dataflow df;
    pe::NodeId o = df.add_source("orders");
    pe::NodeId c = df.add_source("customers");
    pe::JoinSpec spec{pe::JoinKind::Inner, {1}, {0}, 6, 3};
    df.output(pe::add_join(df, o, c, spec));
    std::size_t changes = 0;
    double secs = drive(df, {{o, &half}, {c, &customers}}, &changes);
    join_rate = static_cast<double>(changes) / secs;
    join_state = static_cast<double>(df.state_bytes()) / static_cast<double>(changes);
    results.push_back({"join (2-way, both changing)", join_rate, join_state});
  }
  if (!join_only)
    results.push_back(single_input("anti-join (NOT EXISTS)", quarter, [](pe::Dataflow& df, pe::NodeId in) {
      pe::NodeId returned =
          df.add<pe::MapFilter>({in}, std::make_shared<QtyAbove>(), pe::column_projection({1}));
      return pe::add_semi_join(df, in, returned, {pe::SemiJoinKind::NotExists, {1}, {0}});
    }));

  // Arrangement memory: orders indexed by customer_id.
  pe::Arrangement arrangement({1});
  for (std::size_t b = 0; b < 100; ++b) arrangement.apply(orders[b]);
  double ratio = static_cast<double>(arrangement.bytes()) / static_cast<double>(arrangement.row_bytes());

  std::printf("%-32s %16s %22s\n", "operator", "changes/s", "state bytes/input row");
  for (const Result& r : results)
    std::printf("%-32s %16.0f %22.1f\n", r.name.c_str(), r.per_second, r.state_bytes_per_row);
  std::printf(
      "arrangement of %zu orders by customer_id: %zu bytes for %zu packed row bytes (%.1f bytes/row "
      "packed)\n",
      arrangement.distinct_rows(), arrangement.bytes(), arrangement.row_bytes(),
      static_cast<double>(arrangement.row_bytes()) / static_cast<double>(arrangement.distinct_rows()));
  std::printf(
      "{\"filter_project_per_s\": %.0f, \"group_sum_per_s\": %.0f, \"join2_per_s\": %.0f, "
      "\"arrangement_bytes_ratio\": %.3f, \"join2_state_bytes_per_row\": %.1f}\n",
      join_only ? 0 : results[0].per_second, join_only ? 0 : results[1].per_second, join_rate, ratio,
      join_state);
  return 0;
}
