// bench_aggmem: bytes of grouped aggregate state per group (issue #6).
//
// Feeds 1M rows of orders(customer_id int4, amount numeric(12,2), amount_i
// int4, amount_f float8) into one Reduce grouped by customer_id (10,000
// groups), in epochs of 10,000 rows, and prints per group: the operator's
// state_bytes(), the heap it really holds (mallinfo2 in-use bytes after minus
// before, mmapped blocks included) and the RSS growth. Two data shapes: "const" (amount constant
// within a group, as in bench_e2e: 1 + g % 10000, (g % 1000) * 1.25) and
// "spread" (~100 distinct amounts per group). Each configuration is one
// aggregate alone, plus the group key alone and the whole query
// (count(*), sum, avg, min, max of amount). The digest (sum of weight x
// row hash over every output delta, i.e. of the final view) must not change
// between builds: it checks that a layout change kept every result.
// Usage: `make bench-aggmem`, or bench_aggmem [config-substring].
#include <malloc.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "pgstream/engine/numeric.hpp"
#include "pgstream/engine/operators/reduce.hpp"

namespace pe = pgstream::engine;

namespace {

constexpr std::int64_t kRows = 1000000;
constexpr std::int64_t kGroups = 10000;
constexpr std::int64_t kBatch = 10000;

std::size_t heap_in_use() {
  malloc_trim(0);
  struct mallinfo2 m = mallinfo2();
  return m.uordblks + m.hblkhd;  // chunks in use, and large blocks (mmapped)
}

std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0;
  std::size_t resident = 0;
  statm >> pages >> resident;
  return resident * 4096;
}

std::uint64_t row_hash(pe::RowRef row) {
  std::uint64_t h = 1469598103934665603ULL;
  for (std::uint32_t i = 0; i < row.size(); ++i) {
    h ^= static_cast<std::uint8_t>(row.data()[i]);
    h *= 1099511628211ULL;
  }
  return h;
}

// Row g of the input: customer 1 + g % 10000; amount in cents.
std::int64_t cents_of(std::int64_t g, bool spread) {
  std::int64_t base = (g % 1000) * 125;
  return spread ? base + ((g / kGroups) % 100) * 125 : base;
}

void pack_row(pe::RowPacker& p, std::int64_t g, bool spread) {
  std::int64_t cents = cents_of(g, spread);
  p.clear();
  p.push_int4(static_cast<std::int32_t>(1 + g % kGroups));
  p.push_numeric(pe::Numeric::parse(std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") +
                                    std::to_string(cents % 100)));
  p.push_int4(static_cast<std::int32_t>(cents));
  p.push_float8(static_cast<double>(cents) / 100.0);
}

struct Config {
  const char* name;
  std::vector<pe::AggregateSpec> aggregates;
};

std::vector<Config> configs() {
  using K = pe::AggregateKind;
  const pe::DatumKind num = pe::DatumKind::Numeric;
  return {
      {"key only", {}},
      {"count(*)", {{K::CountStar}}},
      {"sum(numeric)", {{K::Sum, 1, num}}},
      {"avg(numeric)", {{K::Avg, 1, num}}},
      {"min(numeric)", {{K::Min, 1, num}}},
      {"max(numeric)", {{K::Max, 1, num}}},
      {"sum(int4)", {{K::Sum, 2, pe::DatumKind::Int4}}},
      {"avg(int4)", {{K::Avg, 2, pe::DatumKind::Int4}}},
      {"sum(float8)", {{K::Sum, 3, pe::DatumKind::Float8}}},
      {"avg(float8)", {{K::Avg, 3, pe::DatumKind::Float8}}},
      {"whole query",
       {{K::CountStar}, {K::Sum, 1, num}, {K::Avg, 1, num}, {K::Min, 1, num}, {K::Max, 1, num}}},
  };
}

struct Measure {
  double state = 0;
  double heap = 0;
  double rss = 0;
  std::uint64_t digest = 0;
};

Measure run(const Config& config, bool spread) {
  Measure m;
  std::size_t heap0 = heap_in_use();
  std::size_t rss0 = rss_bytes();
  {
    pe::ReduceSpec spec;
    spec.group_key = {0};
    spec.aggregates = config.aggregates;
    pe::Reduce reduce(spec);
    pe::RowPacker p;
    for (std::int64_t from = 0; from < kRows; from += kBatch) {
      pe::ZSet batch;
      pe::ZSet out;
      for (std::int64_t g = from; g < from + kBatch; ++g) {
        pack_row(p, g, spread);
        batch.add(p.row(), 1);
      }
      const pe::ZSet* inputs[] = {&batch};
      reduce.step(inputs, out);
      for (auto u : out) m.digest += static_cast<std::uint64_t>(u.weight) * row_hash(u.row);
    }
    m.state = static_cast<double>(reduce.state_bytes()) / kGroups;
    m.heap = static_cast<double>(heap_in_use() - heap0) / kGroups;
    m.rss = static_cast<double>(rss_bytes() - rss0) / kGroups;
  }
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const char* only = argc > 1 ? argv[1] : "";
  std::printf("bytes per group, %lld rows, %lld groups (heap: mallinfo2 in-use delta; rss: resident delta)\n",
              static_cast<long long>(kRows), static_cast<long long>(kGroups));
  std::printf("%-14s %-7s %10s %10s %10s  %s\n", "config", "shape", "state", "heap", "rss", "digest");
  for (const Config& c : configs()) {
    if (std::strstr(c.name, only) == nullptr) continue;
    for (bool spread : {false, true}) {
      Measure m = run(c, spread);
      std::printf("%-14s %-7s %10.1f %10.1f %10.1f  %016llx\n", c.name, spread ? "spread" : "const", m.state,
                  m.heap, m.rss, static_cast<unsigned long long>(m.digest));
      std::fflush(stdout);
    }
  }
  return 0;
}
