// The compact aggregate state (issue #6) against straightforward references:
// numeric sums kept inline as an Int128 until they overflow, the scales of
// the rows kept inline until a second one appears, min/max kept inline until
// a second value appears, ValueMultiset flat until it spills to a tree, and
// Reduce's shared accumulators (sum/avg/count(x), min/max, ...) against one
// Reduce per aggregate. Each randomized case checks after every change.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "pgstream/engine/numeric.hpp"
#include "pgstream/engine/operators/aggregate.hpp"
#include "pgstream/engine/operators/reduce.hpp"

using namespace pgstream::engine;

namespace {

std::string text_of(DatumRef d) {
  if (d.is_null()) return "NULL";
  std::string text;
  format_datum(d, text);
  return text;
}

// A random numeric's text: mostly small with scale 2, sometimes up to 45
// digits (past Int128) or scales up to 30, sometimes NaN or ±Infinity.
std::string random_numeric(std::mt19937_64& rng, bool specials) {
  auto pick = [&](std::uint64_t n) { return rng() % n; };
  if (specials) {
    switch (pick(30)) {
      case 0: return "NaN";
      case 1: return "Infinity";
      case 2: return "-Infinity";
      default: break;
    }
  }
  std::size_t digits = pick(4) == 0 ? 1 + pick(45) : 1 + pick(8);
  std::size_t scale = pick(3) == 0 ? pick(31) : 2;
  std::string s = pick(3) == 0 ? "-" : "";
  std::string mantissa;
  for (std::size_t i = 0; i < digits; ++i) mantissa.push_back(static_cast<char>('0' + pick(10)));
  if (scale >= mantissa.size()) mantissa.insert(0, scale - mantissa.size() + 1, '0');
  if (scale > 0) mantissa.insert(mantissa.size() - scale, 1, '.');
  return s + mantissa;
}

// A bag of values (by their exact text) with multiplicities, never negative.
struct Bag {
  std::map<std::string, std::int64_t> counts;
  // A change: a new value (weight 1..3) or a retraction of a present one.
  std::pair<std::string, std::int64_t> change(std::mt19937_64& rng, const std::string& fresh) {
    if (!counts.empty() && rng() % 5 < 2) {
      auto it = counts.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(rng() % counts.size()));
      return {it->first, -static_cast<std::int64_t>(1 + rng() % static_cast<std::uint64_t>(it->second))};
    }
    return {fresh, static_cast<std::int64_t>(1 + rng() % 3)};
  }
  void apply(const std::string& value, std::int64_t weight) {
    if ((counts[value] += weight) == 0) counts.erase(value);
  }
};

RowPacker numeric_row(const std::string& text) {
  RowPacker p;
  p.push_numeric(Numeric::parse(text));
  return p;
}

// sum and avg of numeric as PostgreSQL defines them, from the bag.
std::pair<std::string, std::string> numeric_sum_avg(const Bag& bag) {
  std::int64_t count = 0;
  std::int64_t nan = 0;
  std::int64_t pos = 0;
  std::int64_t neg = 0;
  Numeric sum;
  std::uint16_t scale = 0;
  for (const auto& [text, n] : bag.counts) {
    Numeric v = Numeric::parse(text);
    count += n;
    if (v.is_nan()) {
      nan += n;
    } else if (!v.is_finite()) {
      (v.special() == Numeric::Special::PosInf ? pos : neg) += n;
    } else {
      sum = sum.add(v.mul(Numeric::from_int(n)));
      scale = std::max(scale, v.dscale());
    }
  }
  if (count == 0) return {"NULL", "NULL"};
  if (nan != 0 || (pos != 0 && neg != 0)) return {"NaN", "NaN"};
  if (pos != 0 || neg != 0) return {neg != 0 ? "-Infinity" : "Infinity", neg != 0 ? "-Infinity" : "Infinity"};
  Numeric total = sum.rescaled(scale);
  return {total.to_string(), total.div_int(count).to_string()};
}

std::string finish_text(const AggregateSpec& spec, const Accumulator& acc) {
  RowPacker out;
  acc.finish(spec, out);
  return text_of(out.row().at(0));
}

// The packed bytes of the result, to compare forms (1.0 vs 1.00) too.
std::string finish_bytes(const AggregateSpec& spec, const Accumulator& acc) {
  RowPacker out;
  acc.finish(spec, out);
  RowRef r = out.row();
  return {reinterpret_cast<const char*>(r.data()), r.size()};
}

}  // namespace

TEST_CASE("numeric sum/avg: inline Int128 sum and scales against a reference", "[aggregates][state]") {
  AggregateSpec sum{AggregateKind::Sum, 0, DatumKind::Numeric};
  AggregateSpec avg{AggregateKind::Avg, 0, DatumKind::Numeric};
  std::size_t big_sums = 0;
  std::size_t many_scales = 0;
  for (std::uint64_t seed = 1; seed <= 12; ++seed) {
    std::mt19937_64 rng(seed);
    Bag bag;
    Accumulator acc;
    for (int step = 0; step < 250; ++step) {
      auto [value, weight] = bag.change(rng, random_numeric(rng, seed % 3 != 0));
      if (rng() % 10 == 0 && weight > 0) {
        // An unconsolidated input may retract before it inserts: the
        // counts per scale go negative for a moment.
        std::string other = random_numeric(rng, false);
        acc.add(sum, numeric_row(other).row().at(0), -1, c_collation());
        acc.add(sum, numeric_row(other).row().at(0), 1, c_collation());
      }
      acc.add(sum, numeric_row(value).row().at(0), weight, c_collation());
      bag.apply(value, weight);
      auto [expected_sum, expected_avg] = numeric_sum_avg(bag);
      INFO("seed " << seed << " step " << step << " value " << value << " weight " << weight);
      REQUIRE(finish_text(sum, acc) == expected_sum);
      REQUIRE(finish_text(avg, acc) == expected_avg);
      if (expected_sum.size() > 40) ++big_sums;
      std::map<std::size_t, int> scales;
      for (const auto& [text, n] : bag.counts) {
        auto dot = text.find('.');
        ++scales[dot == std::string::npos ? 0 : text.size() - dot - 1];
      }
      if (scales.size() > 2) ++many_scales;
    }
  }
  CHECK(big_sums > 0);     // the inline sum overflowed into a Numeric
  CHECK(many_scales > 0);  // more scales than the inline one
}

TEST_CASE("numeric sum: overflow, scale growth and specials, step by step", "[aggregates][state]") {
  AggregateSpec sum{AggregateKind::Sum, 0, DatumKind::Numeric};
  Accumulator acc;
  auto add = [&](const char* v, std::int64_t w) {
    acc.add(sum, numeric_row(v).row().at(0), w, c_collation());
    return finish_text(sum, acc);
  };
  CHECK(add("1.5", 1) == "1.5");
  std::size_t inline_bytes = acc.bytes();
  CHECK(inline_bytes == sizeof(Accumulator));  // nothing out of line
  CHECK(add("99999999999999999999999999999999999999", 2) ==
        "199999999999999999999999999999999999999.5");  // past Int128: spilled
  CHECK(acc.bytes() > inline_bytes);
  CHECK(add("99999999999999999999999999999999999999", -2) == "1.5");
  CHECK(add("0.001", 1) == "1.501");  // a second scale
  CHECK(add("0.001", -1) == "1.5");   // back to one scale: 1.5 again, not 1.500
  CHECK(add("NaN", 1) == "NaN");
  CHECK(add("NaN", -1) == "1.5");
  CHECK(add("Infinity", 1) == "Infinity");
  CHECK(add("-Infinity", 1) == "NaN");
  CHECK(add("Infinity", -1) == "-Infinity");
  CHECK(add("-Infinity", -1) == "1.5");
  CHECK(add("1.5", -1) == "NULL");
  CHECK(add("2", 3) == "6");  // the scale of the rows now present
  acc.add(sum, numeric_row("1e-30").row().at(0), 1, c_collation());
  CHECK(finish_text(sum, acc) == "6.000000000000000000000000000001");
}

TEST_CASE("numeric variance keeps its scales through the new scale counts", "[aggregates][state]") {
  // Fed in a random order with retractions, var_samp must equal a fresh
  // accumulator fed only the rows present.
  AggregateSpec var{AggregateKind::VarSamp, 0, DatumKind::Numeric};
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    std::mt19937_64 rng(seed);
    Bag bag;
    Accumulator acc;
    for (int step = 0; step < 120; ++step) {
      std::string fresh = random_numeric(rng, seed % 2 == 0);
      if (fresh.size() > 14) fresh = fresh.substr(0, 14);  // keep the squares small
      if (fresh.back() == '.' || fresh == "-") fresh += "1";
      auto [value, weight] = bag.change(rng, fresh);
      acc.add(var, numeric_row(value).row().at(0), weight, c_collation());
      bag.apply(value, weight);
      Accumulator fresh_acc;
      for (const auto& [text, n] : bag.counts)
        fresh_acc.add(var, numeric_row(text).row().at(0), n, c_collation());
      INFO("seed " << seed << " step " << step);
      REQUIRE(finish_text(var, acc) == finish_text(var, fresh_acc));
    }
  }
}

TEST_CASE("min/max: the inline value and the multiset against a reference", "[aggregates][state]") {
  // Values equal under SQL order but not in bytes (1, 1.0, 1.00) are one
  // entry, kept in the form first added while it lives.
  const std::vector<std::vector<std::string>> pools = {
      {"1", "1.0", "1.00", "2.5", "-3", "12345678.9", "123456789012345678901234567890", "NaN", "0"},
      {"a", "b", "ab", "a-text-longer-than-sixteen-bytes", "a-text-longer-than-sixteen-bytez", ""},
  };
  for (std::size_t p = 0; p < pools.size(); ++p) {
    const bool numeric = p == 0;
    for (std::uint64_t seed = 1; seed <= 6; ++seed) {
      std::mt19937_64 rng(seed * 31 + p);
      AggregateSpec min{AggregateKind::Min, 0, numeric ? DatumKind::Numeric : DatumKind::Text};
      AggregateSpec max = min;
      max.kind = AggregateKind::Max;
      auto row_of = [&](const std::string& v) {
        RowPacker r;
        if (numeric) {
          r.push_numeric(Numeric::parse(v));
        } else {
          r.push_text(v);
        }
        return r;
      };
      Bag bag;
      Accumulator acc;
      // The reference: entries (first form, count) by SQL equality.
      std::vector<std::pair<std::string, std::int64_t>> entries;
      for (int step = 0; step < 200; ++step) {
        auto [value, weight] = bag.change(rng, pools[p][rng() % pools[p].size()]);
        RowPacker r = row_of(value);
        acc.add(min, r.row().at(0), weight, c_collation());
        bag.apply(value, weight);
        std::string bytes(reinterpret_cast<const char*>(r.row().data()), r.row().size());
        auto same = [&](const std::pair<std::string, std::int64_t>& e) {
          return compare_datums(DatumRef::decode(reinterpret_cast<const std::byte*>(e.first.data())),
                                r.row().at(0)) == 0;
        };
        auto it = std::find_if(entries.begin(), entries.end(), same);
        if (it == entries.end()) {
          entries.emplace_back(bytes, weight);
        } else if ((it->second += weight) == 0) {
          entries.erase(it);
        }
        RowPacker null_row;
        null_row.push_null();
        const std::string null_bytes(reinterpret_cast<const char*>(null_row.row().data()),
                                     null_row.row().size());
        std::string lo = null_bytes;  // NULL when empty
        std::string hi = null_bytes;
        auto d = [](const std::string& s) {
          return DatumRef::decode(reinterpret_cast<const std::byte*>(s.data()));
        };
        for (const auto& e : entries) {
          if (lo == null_bytes || compare_datums(d(e.first), d(lo)) < 0) lo = e.first;
          if (hi == null_bytes || compare_datums(d(e.first), d(hi)) > 0) hi = e.first;
        }
        INFO("pool " << p << " seed " << seed << " step " << step << " value " << value << " weight "
                     << weight);
        REQUIRE(finish_bytes(min, acc) == lo);
        REQUIRE(finish_bytes(max, acc) == hi);
        if (entries.empty()) REQUIRE(acc.bytes() <= sizeof(Accumulator) + sizeof(ValueMultiset) + 64);
      }
    }
  }
}

TEST_CASE("ValueMultiset: flat, compacted, spilled, against std::map", "[aggregates][state]") {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    std::mt19937_64 rng(seed);
    ValueMultiset set(&c_collation(), seed == 2);  // one run descending
    std::map<std::int64_t, std::int64_t> reference;
    // Values spread over 0..range, range past kFlatLimit in the last run.
    const std::int64_t range = seed == 3 ? 3000 : 300;
    bool spilled = false;
    for (int step = 0; step < 6000; ++step) {
      std::int64_t v = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(range));
      std::int64_t w = reference.count(v) != 0 && rng() % 2 == 0 ? -reference[v]
                                                                 : 1 + static_cast<std::int64_t>(rng() % 2);
      if (step > 4000) w = reference.count(v) != 0 ? -reference[v] : 0;  // drain
      if (w == 0) continue;
      RowPacker r;
      r.push_int8(v);
      std::int64_t before = reference[v];
      std::int64_t after = before + w;
      if (after == 0) {
        reference.erase(v);
      } else {
        reference[v] = after;
      }
      int expected = before <= 0 && after > 0 ? 1 : (before > 0 && after <= 0 ? -1 : 0);
      REQUIRE(set.add(r.row().at(0), w) == expected);
      spilled = spilled || set.spilled();
      if (step % 97 == 0 || step > 5900) {
        REQUIRE(set.distinct_count() == reference.size());
        std::vector<std::pair<std::int64_t, std::int64_t>> got;
        set.for_each([&](DatumRef d, std::int64_t c) { got.emplace_back(d.as_int8(), c); });
        std::vector<std::pair<std::int64_t, std::int64_t>> want(reference.begin(), reference.end());
        if (seed == 2) std::reverse(want.begin(), want.end());
        REQUIRE(got == want);
        if (!reference.empty()) {
          CHECK(set.min().as_int8() == want.front().first);
          CHECK(set.max().as_int8() == want.back().first);
        }
      }
    }
    CHECK(spilled == (seed == 3));
    // Drained of values: the flat buffers are released.
    if (!spilled && reference.empty()) CHECK(set.bytes() == sizeof(ValueMultiset));
  }
}

TEST_CASE("ValueMultiset: counts past int32 or entries of another arity move it to the tree",
          "[aggregates][state]") {
  RowPacker one;
  one.push_int8(1);
  RowPacker two;
  two.push_int8(2);
  auto contents = [](const ValueMultiset& set) {
    std::vector<std::pair<std::string, std::int64_t>> out;
    set.for_each_entry([&](RowRef entry, std::int64_t count) {
      std::string text;
      for (DatumRef d : entry) text += text_of(d) + ";";
      out.emplace_back(text, count);
    });
    return out;
  };
  using Contents = std::vector<std::pair<std::string, std::int64_t>>;
  ValueMultiset set(&c_collation(), false);
  CHECK(set.add(one.row().at(0), 2'000'000'000) == 1);
  CHECK(set.add(two.row().at(0), 1) == 1);
  CHECK_FALSE(set.spilled());
  CHECK(set.add(one.row().at(0), 2'000'000'000) == 0);  // 4e9 does not fit the flat i32 count
  CHECK(set.spilled());
  CHECK(contents(set) == Contents{{"1;", 4'000'000'000}, {"2;", 1}});
  CHECK(set.add(one.row().at(0), -4'000'000'000) == -1);
  CHECK(contents(set) == Contents{{"2;", 1}});
  CHECK(set.min().as_int8() == 2);

  ValueMultiset pairs(&c_collation(), false);
  RowPacker pair;
  pair.push_int8(1);
  pair.push_int8(5);
  CHECK(pairs.add_entry(pair.row(), 1) == 1);
  CHECK_FALSE(pairs.spilled());
  CHECK(pairs.add_entry(two.row(), 3) == 1);  // one datum, not two
  CHECK(pairs.spilled());
  CHECK(contents(pairs) == Contents{{"1;5;", 1}, {"2;", 3}});
}

TEST_CASE("Reduce: shared accumulators give each aggregate's own result", "[aggregates][state]") {
  // rows (g int4, x numeric or NULL, f bool); the combined Reduce shares
  // count(x)/sum(x)/avg(x), min(x)/max(x), var_pop/stddev_samp(x) and the
  // FILTERed and DISTINCT ones among themselves.
  using K = AggregateKind;
  const DatumKind num = DatumKind::Numeric;
  std::vector<AggregateSpec> aggregates = {
      {K::CountStar},   {K::Count, 1, num},  {K::Sum, 1, num},        {K::Avg, 1, num},  {K::Min, 1, num},
      {K::Max, 1, num}, {K::VarPop, 1, num}, {K::StddevSamp, 1, num}, {K::Sum, 1, num},  {K::Count, 1, num},
      {K::Sum, 1, num}, {K::Max, 1, num},    {K::Min, 1, num},        {K::Count, 1, num}};
  aggregates[8].filter_column = 2;   // sum(x) FILTER (WHERE f)
  aggregates[9].distinct = true;     // count(DISTINCT x)
  aggregates[10].distinct = true;    // sum(DISTINCT x)
  aggregates[11].filter_column = 2;  // max(x) FILTER (WHERE f)
  aggregates[12].distinct = true;    // min(DISTINCT x)
  // count(x) alone in its class first, then fed by sum: the later sum(x) takes over.
  aggregates.insert(aggregates.begin(), AggregateSpec{K::Count, 1, num});

  auto make = [](std::vector<AggregateSpec> aggs) {
    ReduceSpec spec;
    spec.group_key = {0};
    spec.aggregates = std::move(aggs);
    return Reduce(spec);
  };
  Reduce combined = make(aggregates);
  std::vector<Reduce> singles;
  singles.reserve(aggregates.size());
  for (const AggregateSpec& a : aggregates) singles.push_back(make({a}));

  // Views: output row bytes -> weight.
  using View = std::map<std::string, std::int64_t>;
  auto apply = [](View& view, const ZSet& out) {
    for (auto u : out) {
      std::string key(reinterpret_cast<const char*>(u.row.data()), u.row.size());
      if ((view[key] += u.weight) == 0) view.erase(key);
    }
  };
  // group text -> column texts.
  auto columns = [](const View& view) {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& [bytes, weight] : view) {
      RowRef row(reinterpret_cast<const std::byte*>(bytes.data()), static_cast<std::uint32_t>(bytes.size()));
      std::vector<std::string> cells;
      for (DatumRef d : row) cells.push_back(text_of(d));
      std::string key = cells.front();
      cells.erase(cells.begin());
      out[key] = cells;
    }
    return out;
  };
  View combined_view;
  std::vector<View> single_views(aggregates.size());
  std::mt19937_64 rng(5);
  std::vector<std::string> present;  // rows present (bytes)
  for (int epoch = 0; epoch < 60; ++epoch) {
    ZSet delta;
    for (int i = 0; i < 20; ++i) {
      if (!present.empty() && rng() % 3 == 0) {
        std::size_t k = rng() % present.size();
        const std::string& bytes = present[k];
        delta.add(RowRef(reinterpret_cast<const std::byte*>(bytes.data()),
                         static_cast<std::uint32_t>(bytes.size())),
                  -1);
        present.erase(present.begin() + static_cast<std::ptrdiff_t>(k));
        continue;
      }
      RowPacker r;
      r.push_int4(static_cast<std::int32_t>(rng() % 4));
      if (rng() % 8 == 0) {
        r.push_null();
      } else {
        r.push_numeric(Numeric::parse(random_numeric(rng, false).substr(0, 12) + "1"));
      }
      r.push_bool(rng() % 2 == 0);
      delta.add(r.row(), 1);
      present.emplace_back(reinterpret_cast<const char*>(r.row().data()), r.row().size());
    }
    delta.consolidate();
    const ZSet* inputs[] = {&delta};
    ZSet out;
    combined.step(inputs, out);
    apply(combined_view, out);
    for (std::size_t a = 0; a < aggregates.size(); ++a) {
      ZSet single_out;
      singles[a].step(inputs, single_out);
      apply(single_views[a], single_out);
    }
    auto got = columns(combined_view);
    for (std::size_t a = 0; a < aggregates.size(); ++a) {
      auto want = columns(single_views[a]);
      REQUIRE(got.size() == want.size());
      for (const auto& [group, cells] : want) {
        INFO("epoch " << epoch << " aggregate " << a << " group " << group);
        REQUIRE(got[group].at(a) == cells.at(0));
      }
    }
  }
  // Shared: fewer accumulators than aggregates, so less state than the singles'.
  std::size_t singles_bytes = 0;
  for (const Reduce& r : singles) singles_bytes += r.state_bytes();
  CHECK(combined.state_bytes() < singles_bytes);
}
