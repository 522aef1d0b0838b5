// Seeded randomized property tests: after EVERY epoch the incremental
// dataflow's accumulated output equals the reference evaluator's result from
// scratch. Failures print the seed and the plan; a failing seed becomes a
// regression case by adding it to the seed lists below.
#include <atomic>
#include <catch2/catch.hpp>
#include <random>

#include "plan.hpp"

namespace pgstream::engine::testing {
namespace {

std::atomic<std::int64_t> g_epochs{0};
std::atomic<std::int64_t> g_nonempty{0};  // epochs whose expected result has rows

const std::vector<DatumKind>& source_columns() {
  static const std::vector<DatumKind> columns = {DatumKind::Int4, DatumKind::Int4, DatumKind::Text};
  return columns;
}
constexpr std::uint32_t kSources = 3;

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}
  std::uint32_t pick(std::uint32_t n) { return std::uniform_int_distribution<std::uint32_t>(0, n - 1)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  // A random source row: small domains, so keys collide and rows repeat.
  void random_row(RowPacker& p) {
    p.clear();
    if (chance(0.1))
      p.push_null();
    else
      p.push_int4(static_cast<std::int32_t>(pick(5)));
    if (chance(0.1))
      p.push_null();
    else
      p.push_int4(static_cast<std::int32_t>(pick(10)) - 3);
    static const char* texts[] = {"x", "y", "z", "", "xy"};
    if (chance(0.1))
      p.push_null();
    else
      p.push_text(texts[pick(5)]);
  }

  PlanPtr source() {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::Source;
    p->source = pick(kSources);
    p->columns = source_columns();
    return p;
  }

  std::vector<std::uint32_t> columns_of(const Plan& p, bool (*want)(DatumKind)) {
    std::vector<std::uint32_t> out;
    for (std::uint32_t i = 0; i < p.columns.size(); ++i) {
      if (want(p.columns[i])) out.push_back(i);
    }
    return out;
  }
  static bool is_int(DatumKind k) {
    return k == DatumKind::Int2 || k == DatumKind::Int4 || k == DatumKind::Int8;
  }
  static bool any(DatumKind) { return true; }

  PlanPtr filter(const PlanPtr& in, bool project) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::MapFilter;
    p->inputs = {in};
    auto ints = columns_of(*in, is_int);
    if (!ints.empty() && chance(0.8)) {
      auto op = static_cast<CompareConst::Op>(pick(4));
      p->predicate = std::make_shared<CompareConst>(ints[pick(static_cast<std::uint32_t>(ints.size()))], op,
                                                    static_cast<std::int64_t>(pick(6)) - 1);
    }
    p->columns = in->columns;
    if (project) {
      std::uint32_t n = 1 + pick(static_cast<std::uint32_t>(in->columns.size()) + 1);
      p->columns.clear();
      for (std::uint32_t i = 0; i < n; ++i) {
        std::uint32_t c = pick(static_cast<std::uint32_t>(in->columns.size()));
        if (is_int(in->columns[c]) && chance(0.2)) {
          p->projections.push_back(Projection::of_expr(std::make_shared<AddConst>(c, 1)));
          p->columns.push_back(DatumKind::Int8);
        } else {
          p->projections.push_back(Projection::of_column(c));
          p->columns.push_back(in->columns[c]);
        }
      }
    }
    return p;
  }

  // A second input with the same columns as `in`.
  PlanPtr sibling(const PlanPtr& in) {
    if (in->columns == source_columns() && chance(0.6)) {
      auto s = source();
      return chance(0.5) ? filter(s, false) : s;
    }
    return filter(in, false);
  }

  bool pick_keys(const Plan& l, const Plan& r, std::vector<std::uint32_t>& lk, std::vector<std::uint32_t>& rk,
                 std::size_t max_keys) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;
    for (std::uint32_t i = 0; i < l.columns.size(); ++i) {
      for (std::uint32_t j = 0; j < r.columns.size(); ++j) {
        if (l.columns[i] == r.columns[j] && l.columns[i] != DatumKind::Numeric) pairs.emplace_back(i, j);
      }
    }
    if (pairs.empty()) return false;
    std::size_t n = 1 + pick(static_cast<std::uint32_t>(std::min(max_keys, pairs.size())));
    for (std::size_t i = 0; i < n; ++i) {
      auto pr = pairs[pick(static_cast<std::uint32_t>(pairs.size()))];
      lk.push_back(pr.first);
      rk.push_back(pr.second);
    }
    return true;
  }

  PlanPtr join(const PlanPtr& l, const PlanPtr& r) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::Join;
    if (!pick_keys(*l, *r, p->join.left_key, p->join.right_key, 2)) return distinct(l);
    p->inputs = {l, r};
    p->join.kind = static_cast<JoinKind>(pick(4));
    p->join.left_arity = static_cast<std::uint32_t>(l->columns.size());
    p->join.right_arity = static_cast<std::uint32_t>(r->columns.size());
    p->columns = l->columns;
    p->columns.insert(p->columns.end(), r->columns.begin(), r->columns.end());
    return p;
  }

  PlanPtr semi_join(const PlanPtr& l, const PlanPtr& r) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::SemiJoin;
    p->semi.kind = static_cast<SemiJoinKind>(pick(4));
    std::size_t max_keys = p->semi.kind == SemiJoinKind::NotIn ? 1 : 2;
    if (!pick_keys(*l, *r, p->semi.left_key, p->semi.right_key, max_keys)) return distinct(l);
    p->inputs = {l, r};
    p->columns = l->columns;
    return p;
  }

  PlanPtr distinct(const PlanPtr& in) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::Distinct;
    p->inputs = {in};
    p->columns = in->columns;
    return p;
  }

  PlanPtr reduce(const PlanPtr& in) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::Reduce;
    p->inputs = {in};
    std::uint32_t keys = pick(3);
    for (std::uint32_t i = 0; i < keys; ++i) {
      std::uint32_t c = pick(static_cast<std::uint32_t>(in->columns.size()));
      p->reduce.group_key.push_back(c);
      p->columns.push_back(in->columns[c]);
    }
    std::uint32_t aggs = 1 + pick(3);
    auto ints = columns_of(*in, is_int);
    bool filtered_keys = false;  // the input is filtered on an object aggregate's key
    for (std::uint32_t i = 0; i < aggs; ++i) {
      AggregateSpec a;
      std::uint32_t c = pick(static_cast<std::uint32_t>(in->columns.size()));
      a.column = c;
      a.input = in->columns[c];
      std::uint32_t choice = pick(20);
      bool numeric_ok = is_int(a.input) || a.input == DatumKind::Numeric;
      if (choice == 0) {
        a.kind = AggregateKind::CountStar;
      } else if (choice == 1) {
        a.kind = AggregateKind::Count;
        a.distinct = chance(0.4);
      } else if ((choice == 2 || choice == 3) && numeric_ok) {
        a.kind = choice == 2 ? AggregateKind::Sum : AggregateKind::Avg;
        a.distinct = chance(0.2);
      } else if (choice == 4 || choice == 5) {
        a.kind = choice == 4 ? AggregateKind::Min : AggregateKind::Max;
      } else if (choice >= 6 && choice <= 8 && is_int(a.input)) {
        a.kind = choice == 6   ? AggregateKind::BitAnd
                 : choice == 7 ? AggregateKind::BitOr
                               : AggregateKind::BitXor;
      } else if (choice == 9 && a.input == DatumKind::Text) {
        a.kind = AggregateKind::StringAgg;
        a.delimiter = ",";
      } else if (choice == 10 && a.input != DatumKind::Numeric) {
        a.kind = AggregateKind::ArrayAgg;
      } else if (choice == 11 && (a.input == DatumKind::Text || is_int(a.input))) {
        a.kind = AggregateKind::JsonAgg;
      } else if (choice == 12 && is_int(a.input) && a.input != DatumKind::Int8) {
        a.kind = chance(0.5) ? AggregateKind::VarPop : AggregateKind::VarSamp;
      } else if (choice == 13 && a.input != DatumKind::Numeric) {
        a.kind = AggregateKind::Mode;
      } else if ((choice == 14 || choice == 15) && is_int(a.input)) {
        a.kind = choice == 14 ? AggregateKind::PercentileDisc : AggregateKind::PercentileCont;
        static const double fractions[] = {0.0, 0.25, 0.5, 0.9, 1.0};
        a.fraction = fractions[pick(5)];
        if (chance(0.3)) {  // percentile_*(ARRAY[...]), NULL elements included
          a.fraction_array = true;
          for (std::uint32_t f = pick(4); f > 0; --f) {
            a.fractions.push_back(chance(0.2) ? std::nullopt : std::optional<double>(fractions[pick(5)]));
          }
        }
      } else if (choice == 16 && is_int(a.input) && a.input != DatumKind::Int8) {
        a.kind = chance(0.5) ? AggregateKind::StddevPop : AggregateKind::StddevSamp;
        a.distinct = chance(0.2);
      } else if (choice == 17 && is_int(a.input) && !ints.empty()) {
        // corr, covar_*, regr_* (Y = column, X = another int column).
        a.kind =
            static_cast<AggregateKind>(static_cast<int>(AggregateKind::Corr) + static_cast<int>(pick(12)));
        a.column2 = static_cast<std::int32_t>(ints[pick(static_cast<std::uint32_t>(ints.size()))]);
        a.distinct = chance(0.2);
      } else if (choice >= 18 && is_int(a.input) && !filtered_keys) {
        // json(b)_object_agg(int key, any value): the key must not be NULL,
        // so the reduce reads its input filtered on key > -1000000.
        a.kind = choice == 18 ? AggregateKind::JsonObjectAgg : AggregateKind::JsonbObjectAgg;
        a.column2 = static_cast<std::int32_t>(pick(static_cast<std::uint32_t>(in->columns.size())));
        a.distinct = chance(0.2);
        auto f = std::make_shared<Plan>();
        f->kind = Plan::Kind::MapFilter;
        f->inputs = {in};
        f->columns = in->columns;
        f->predicate = std::make_shared<CompareConst>(c, CompareConst::Op::Greater, -1000000);
        p->inputs = {f};
        filtered_keys = true;
      } else {
        a.kind = AggregateKind::Count;
      }
      bool collect = a.kind == AggregateKind::StringAgg || a.kind == AggregateKind::ArrayAgg ||
                     a.kind == AggregateKind::JsonAgg || a.kind == AggregateKind::JsonObjectAgg ||
                     a.kind == AggregateKind::JsonbObjectAgg;
      if (collect && !a.distinct && chance(0.5)) {
        a.order_column = static_cast<std::int32_t>(pick(static_cast<std::uint32_t>(in->columns.size())));
        a.order_descending = chance(0.5);
      }
      p->reduce.aggregates.push_back(a);
      switch (a.kind) {
        case AggregateKind::CountStar:
        case AggregateKind::Count: p->columns.push_back(DatumKind::Int8); break;
        case AggregateKind::Sum:
          p->columns.push_back(a.input == DatumKind::Int4 || a.input == DatumKind::Int2 ? DatumKind::Int8
                                                                                        : DatumKind::Numeric);
          break;
        case AggregateKind::Avg:
        case AggregateKind::VarPop:
        case AggregateKind::VarSamp:
        case AggregateKind::StddevPop:
        case AggregateKind::StddevSamp: p->columns.push_back(DatumKind::Numeric); break;
        case AggregateKind::JsonObjectAgg: p->columns.push_back(DatumKind::Json); break;
        case AggregateKind::JsonbObjectAgg: p->columns.push_back(DatumKind::Jsonb); break;
        case AggregateKind::RegrCount: p->columns.push_back(DatumKind::Int8); break;
        case AggregateKind::Corr:
        case AggregateKind::CovarPop:
        case AggregateKind::CovarSamp:
        case AggregateKind::RegrSlope:
        case AggregateKind::RegrIntercept:
        case AggregateKind::RegrR2:
        case AggregateKind::RegrAvgX:
        case AggregateKind::RegrAvgY:
        case AggregateKind::RegrSxx:
        case AggregateKind::RegrSxy:
        case AggregateKind::RegrSyy: p->columns.push_back(DatumKind::Float8); break;
        case AggregateKind::StringAgg: p->columns.push_back(DatumKind::Text); break;
        case AggregateKind::ArrayAgg: p->columns.push_back(DatumKind::Array); break;
        case AggregateKind::JsonAgg: p->columns.push_back(DatumKind::Json); break;
        case AggregateKind::PercentileCont:
          p->columns.push_back(a.fraction_array ? DatumKind::Array : DatumKind::Float8);
          break;
        case AggregateKind::PercentileDisc:
          p->columns.push_back(a.fraction_array ? DatumKind::Array : a.input);
          break;
        default: p->columns.push_back(a.input); break;
      }
    }
    return p;
  }

  PlanPtr top_k(const PlanPtr& in) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::TopK;
    p->inputs = {in};
    p->columns = in->columns;
    auto n = static_cast<std::uint32_t>(in->columns.size());
    if (chance(0.4)) p->top_k.partition.push_back(pick(n));
    std::uint32_t keys = 1 + pick(2);
    for (std::uint32_t i = 0; i < keys; ++i) {
      SortKey k = chance(0.5) ? SortKey::asc(pick(n)) : SortKey::desc(pick(n));
      if (chance(0.2)) k.nulls_first = !k.nulls_first;
      p->top_k.order.push_back(k);
    }
    p->top_k.limit = 1 + pick(4);
    p->top_k.offset = pick(3);
    p->top_k.with_ties = !p->top_k.order.empty() && chance(0.25);
    return p;
  }

  PlanPtr set_operation(const PlanPtr& in) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::SetOperation;
    p->set_kind = static_cast<SetOperationKind>(pick(4));
    p->inputs = {in, sibling(in)};
    p->columns = in->columns;
    return p;
  }

  PlanPtr concat(const PlanPtr& in) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::Concat;
    p->inputs = {in, sibling(in)};
    p->columns = in->columns;
    return p;
  }

  PlanPtr flat_map(const PlanPtr& in) {
    auto ints = columns_of(*in, is_int);
    if (ints.empty()) return distinct(in);
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::FlatMap;
    p->inputs = {in};
    std::uint32_t first = ints[pick(static_cast<std::uint32_t>(ints.size()))];
    std::uint32_t second = ints[pick(static_cast<std::uint32_t>(ints.size()))];
    p->table_function = std::make_shared<GenerateSeries>(first, second);
    p->columns = in->columns;
    p->columns.push_back(DatumKind::Int8);
    return p;
  }

  // The outer rows extended with a scalar aggregate of a source.
  PlanPtr scalar_subquery(const PlanPtr& in) {
    auto sub = std::make_shared<Plan>();
    sub->kind = Plan::Kind::Reduce;
    sub->inputs = {chance(0.5) ? source() : filter(source(), false)};
    AggregateSpec a;
    a.kind = chance(0.5) ? AggregateKind::Max : AggregateKind::Count;
    a.column = pick(2);
    a.input = DatumKind::Int4;
    sub->reduce.aggregates = {a};
    sub->columns = {a.kind == AggregateKind::Max ? DatumKind::Int4 : DatumKind::Int8};
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::ScalarSubquery;
    p->inputs = {in, sub};
    p->columns = in->columns;
    p->columns.push_back(sub->columns[0]);
    return p;
  }

  // A frame PostgreSQL accepts: ROWS/RANGE/GROUPS, any valid pair of bounds
  // (offsets 0..2, so frames can be empty or a single row), any EXCLUDE;
  // RANGE offsets only over a single integer ORDER BY column.
  void random_frame(WindowSpec& w, const Plan& in) {
    bool range_offsets = w.order.size() == 1 && is_int(in.columns[w.order[0].column]);
    w.frame = static_cast<WindowFrame>(pick(w.order.empty() ? 2 : 3));
    if (chance(0.3)) return;  // the default frame
    bool offsets = w.frame != WindowFrame::Range || range_offsets;
    auto bound = [&](bool start) {
      for (;;) {
        auto kind = static_cast<FrameBoundKind>(pick(5));
        if (kind == (start ? FrameBoundKind::UnboundedFollowing : FrameBoundKind::UnboundedPreceding))
          continue;
        if (!offsets && (kind == FrameBoundKind::Preceding || kind == FrameBoundKind::Following)) continue;
        FrameBound b{kind, static_cast<std::int64_t>(pick(3)), {}};
        if (w.frame == WindowFrame::Range) {
          RowPacker v;
          v.push_int8(b.offset);
          b.value = Row(v.row());
          b.offset = 0;  // RANGE reads the value
        }
        return b;
      }
    };
    for (;;) {
      w.frame_start = bound(true);
      w.frame_end = bound(false);
      auto s = w.frame_start.kind;
      auto e = w.frame_end.kind;
      if (s == FrameBoundKind::CurrentRow && e == FrameBoundKind::Preceding) continue;
      if (s == FrameBoundKind::Following &&
          (e == FrameBoundKind::Preceding || e == FrameBoundKind::CurrentRow))
        continue;
      break;
    }
    w.exclusion = static_cast<FrameExclusion>(chance(0.5) ? 0 : pick(4));
  }

  PlanPtr window(const PlanPtr& in) {
    auto p = std::make_shared<Plan>();
    p->kind = Plan::Kind::Window;
    p->inputs = {in};
    p->columns = in->columns;
    auto n = static_cast<std::uint32_t>(in->columns.size());
    if (chance(0.6)) p->window.partition.push_back(pick(n));
    std::uint32_t keys = pick(3);
    for (std::uint32_t i = 0; i < keys; ++i)
      p->window.order.push_back(chance(0.5) ? SortKey::asc(pick(n)) : SortKey::desc(pick(n)));
    random_frame(p->window, *in);
    std::uint32_t functions = 1 + pick(3);
    auto ints = columns_of(*in, is_int);
    for (std::uint32_t i = 0; i < functions; ++i) {
      WindowFunction fn;
      fn.kind = static_cast<WindowFunctionKind>(pick(12));
      fn.column = pick(n);
      fn.argument = 1 + pick(3);
      DatumKind kind = DatumKind::Int8;
      switch (fn.kind) {
        case WindowFunctionKind::Ntile: kind = DatumKind::Int4; break;
        case WindowFunctionKind::PercentRank:
        case WindowFunctionKind::CumeDist: kind = DatumKind::Float8; break;
        case WindowFunctionKind::Lag:
        case WindowFunctionKind::Lead:
          // lag/lead's default: a column of the current row of the same kind, sometimes.
          for (std::uint32_t c = 0; c < n; ++c) {
            if (c != fn.column && in->columns[c] == in->columns[fn.column] && chance(0.3))
              fn.default_column = static_cast<std::int32_t>(c);
          }
          kind = in->columns[fn.column];
          break;
        case WindowFunctionKind::FirstValue:
        case WindowFunctionKind::NthValue:
        case WindowFunctionKind::LastValue: kind = in->columns[fn.column]; break;
        case WindowFunctionKind::Aggregate:
          if (!ints.empty() && chance(0.5)) {
            fn.aggregate = {chance(0.5) ? AggregateKind::Sum : AggregateKind::Max,
                            ints[pick(static_cast<std::uint32_t>(ints.size()))]};
            fn.aggregate.input = in->columns[fn.aggregate.column];
            kind = fn.aggregate.kind == AggregateKind::Max ? fn.aggregate.input
                   : fn.aggregate.input == DatumKind::Int8 ? DatumKind::Numeric
                                                           : DatumKind::Int8;
          } else {
            fn.aggregate = {AggregateKind::Count, pick(n)};
          }
          break;
        default: break;
      }
      p->window.functions.push_back(fn);
      p->columns.push_back(kind);
    }
    return p;
  }

  // Applies operator `which` (0..11) on top of `in`.
  PlanPtr apply(std::uint32_t which, const PlanPtr& in) {
    switch (which) {
      case 0: return filter(in, true);
      case 1: return concat(in);
      case 2: return distinct(in);
      case 3: return join(in, chance(0.7) ? source() : filter(source(), true));
      case 4: return semi_join(in, chance(0.7) ? source() : filter(source(), true));
      case 5: return reduce(in);
      case 6: return top_k(in);
      case 7: return set_operation(in);
      case 8: return join(in, reduce(source()));
      case 9: return flat_map(in);
      case 10: return scalar_subquery(in);
      default: return window(in);
    }
  }

  std::mt19937_64 rng_;
};

// Drives `plan` through `epochs` random epochs, comparing after every one.
void run_plan(const PlanPtr& plan, Generator& gen, std::uint64_t seed, int epochs) {
  Dataflow df;
  std::vector<NodeId> sources;
  for (std::uint32_t i = 0; i < kSources; ++i) sources.push_back(df.add_source("s" + std::to_string(i)));
  NodeId out = build(*plan, df, sources);
  df.output(out);
  std::vector<Multiset> contents(kSources);
  std::vector<std::vector<std::string>> rows(kSources);  // with duplicates
  Multiset accumulated;
  RowPacker p;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    for (std::uint32_t s = 0; s < kSources; ++s) {
      if (!gen.chance(0.7)) continue;
      std::uint32_t changes = 1 + gen.pick(4);
      for (std::uint32_t c = 0; c < changes; ++c) {
        std::uint32_t what = gen.pick(10);
        bool shrink = rows[s].size() > 14;
        if ((what < 4 || shrink) && !rows[s].empty()) {  // delete (or update: delete + insert)
          std::uint32_t i = gen.pick(static_cast<std::uint32_t>(rows[s].size()));
          std::string victim = rows[s][i];
          rows[s].erase(rows[s].begin() + i);
          df.input(sources[s]).add(row_of(victim), -1);
          add_to(contents[s], row_of(victim), -1);
          if (what >= 2 || shrink) continue;
        }
        if (what >= 8 && !rows[s].empty()) {  // duplicate an existing row
          p.clear();
          p.push_row(row_of(rows[s][gen.pick(static_cast<std::uint32_t>(rows[s].size()))]));
        } else {
          gen.random_row(p);
        }
        rows[s].push_back(key_of(p.row()));
        df.input(sources[s]).add(p.row(), 1);
        add_to(contents[s], p.row(), 1);
      }
    }
    df.step();
    for (auto u : df.delta(out)) add_to(accumulated, u.row, u.weight);
    Multiset expected = evaluate(*plan, contents);
    ++g_epochs;
    if (!expected.empty()) ++g_nonempty;
    if (accumulated != expected) {
      INFO("seed " << seed << " epoch " << epoch << " plan " << plan->describe());
      INFO("incremental:\n" << describe(accumulated) << "reference:\n" << describe(expected));
      REQUIRE(accumulated == expected);
    }
  }
}

void run_operator(std::uint32_t which, int seeds, int epochs) {
  for (int s = 0; s < seeds; ++s) {
    std::uint64_t seed = 1000 * static_cast<std::uint64_t>(which + 1) + static_cast<std::uint64_t>(s);
    Generator gen(seed);
    PlanPtr plan = gen.apply(which, gen.chance(0.3) ? gen.filter(gen.source(), true) : gen.source());
    CAPTURE(seed);
    run_plan(plan, gen, seed, epochs);
  }
}

}  // namespace

TEST_CASE("map_filter matches the reference", "[engine][property]") { run_operator(0, 40, 150); }
TEST_CASE("concat matches the reference", "[engine][property]") { run_operator(1, 40, 150); }
TEST_CASE("distinct matches the reference", "[engine][property]") { run_operator(2, 40, 150); }
TEST_CASE("join matches the reference", "[engine][property]") { run_operator(3, 80, 150); }
TEST_CASE("semi_join matches the reference", "[engine][property]") { run_operator(4, 80, 150); }
TEST_CASE("reduce matches the reference", "[engine][property]") { run_operator(5, 80, 150); }
TEST_CASE("top_k matches the reference", "[engine][property]") { run_operator(6, 60, 150); }
TEST_CASE("set_operation matches the reference", "[engine][property]") { run_operator(7, 60, 150); }
TEST_CASE("join over reduce matches the reference", "[engine][property]") { run_operator(8, 40, 150); }
TEST_CASE("flat_map matches the reference", "[engine][property]") { run_operator(9, 30, 150); }
TEST_CASE("scalar_subquery matches the reference", "[engine][property]") { run_operator(10, 30, 150); }
TEST_CASE("window matches the reference", "[engine][property]") { run_operator(11, 60, 150); }

namespace {

void run_compositions(std::uint64_t first_seed, int count, int epochs) {
  for (int i = 0; i < count; ++i) {
    std::uint64_t seed = first_seed + static_cast<std::uint64_t>(i);
    Generator gen(seed);
    std::uint32_t ops = 2 + gen.pick(4);  // 2..5 operators
    PlanPtr plan = gen.source();
    for (std::uint32_t k = 0; k < ops; ++k) plan = gen.apply(gen.pick(12), plan);
    CAPTURE(seed);
    run_plan(plan, gen, seed, epochs);
  }
}

}  // namespace

TEST_CASE("random compositions of 2-5 operators match the reference", "[engine][property]") {
  run_compositions(500000, 260, 150);
  WARN("randomized epochs run: " << g_epochs.load() << ", with a non-empty result: " << g_nonempty.load());
  // The comparisons must not be vacuous.
  CHECK(g_nonempty.load() * 2 > g_epochs.load());
}

TEST_CASE("soak: many more random compositions", "[.soak]") { run_compositions(9000000, 5000, 400); }

}  // namespace pgstream::engine::testing
