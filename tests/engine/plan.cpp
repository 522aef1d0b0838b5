#include "plan.hpp"

#include <algorithm>
#include <cmath>
#include <set>

#include "pgstream/common/error.hpp"
#include "pgstream/engine/operators/concat.hpp"
#include "pgstream/engine/operators/distinct.hpp"
#include "pgstream/engine/operators/map_filter.hpp"
#include "pgstream/engine/operators/scalar_subquery.hpp"
#include "pgstream/engine/row_index.hpp"

namespace pgstream::engine::testing {

std::string key_of(RowRef row) { return {reinterpret_cast<const char*>(row.data()), row.size()}; }
RowRef row_of(const std::string& bytes) {
  return {reinterpret_cast<const std::byte*>(bytes.data()), static_cast<std::uint32_t>(bytes.size())};
}
void add_to(Multiset& set, RowRef row, std::int64_t weight) {
  if (weight == 0) return;
  auto& w = set[key_of(row)];
  w += weight;
  if (w == 0) set.erase(key_of(row));
}
RowPacker& ints(RowPacker& p, std::initializer_list<std::optional<std::int32_t>> values) {
  p.clear();
  for (auto v : values) {
    if (v) {
      p.push_int4(*v);
    } else {
      p.push_null();
    }
  }
  return p;
}

std::string describe(const Multiset& set) {
  std::string out;
  for (const auto& [bytes, w] : set) out += debug_string(row_of(bytes)) + " x" + std::to_string(w) + "\n";
  return out.empty() ? "(empty)\n" : out;
}

Truth CompareConst::test(RowRef input) const {
  DatumRef d = input.at(column_);
  if (d.is_null()) return Truth::Unknown;
  std::int64_t v = d.as_int();
  bool r = false;
  switch (op_) {
    case Op::Less: r = v < constant_; break;
    case Op::Equal: r = v == constant_; break;
    case Op::Greater: r = v > constant_; break;
    case Op::NotEqual: r = v != constant_; break;
  }
  return r ? Truth::True : Truth::False;
}

void AddConst::evaluate(RowRef input, RowPacker& out) const {
  DatumRef d = input.at(column_);
  if (d.is_null()) {
    out.push_null();
  } else {
    out.push_int8(d.as_int() + addend_);
  }
}

std::string Plan::describe() const {
  static const char* names[] = {"source", "map_filter", "concat",          "distinct",
                                "join",   "semi_join",  "reduce",          "top_k",
                                "set_op", "flat_map",   "scalar_subquery", "window"};
  std::string out = names[static_cast<int>(kind)];
  if (kind == Kind::Source) out += std::to_string(source);
  if (kind == Kind::Join) out += "/" + std::to_string(static_cast<int>(join.kind));
  if (kind == Kind::SemiJoin) out += "/" + std::to_string(static_cast<int>(semi.kind));
  if (kind == Kind::SetOperation) out += "/" + std::to_string(static_cast<int>(set_kind));
  if (!inputs.empty()) {
    out += "(";
    for (std::size_t i = 0; i < inputs.size(); ++i) out += (i ? ", " : "") + inputs[i]->describe();
    out += ")";
  }
  return out;
}

NodeId build(const Plan& plan, Dataflow& df, const std::vector<NodeId>& sources) {
  std::vector<NodeId> in;
  for (const auto& p : plan.inputs) in.push_back(build(*p, df, sources));
  switch (plan.kind) {
    case Plan::Kind::Source: return sources.at(plan.source);
    case Plan::Kind::MapFilter: return df.add<MapFilter>(in, plan.predicate, plan.projections);
    case Plan::Kind::Concat: return df.add<Concat>(in);
    case Plan::Kind::Distinct: return df.add<Distinct>(in);
    case Plan::Kind::Join: return add_join(df, in[0], in[1], plan.join);
    case Plan::Kind::SemiJoin: return add_semi_join(df, in[0], in[1], plan.semi);
    case Plan::Kind::Reduce: return df.add<Reduce>(in, plan.reduce);
    case Plan::Kind::TopK: return df.add<TopK>(in, plan.top_k);
    case Plan::Kind::SetOperation: return df.add<SetOperation>(in, plan.set_kind);
    case Plan::Kind::FlatMap: return df.add<FlatMap>(in, plan.table_function);
    case Plan::Kind::ScalarSubquery: return add_scalar_subquery(df, in[0], in[1]);
    case Plan::Kind::Window: return df.add<Window>(in, plan.window);
  }
  return 0;
}

namespace {

std::string pack_key_of(RowRef row, const std::vector<std::uint32_t>& columns) {
  RowPacker p;
  p.pack_key(row, columns);
  return key_of(p.row());
}

bool key_has_null(const std::string& key) { return has_null(row_of(key)); }

Multiset eval_join(const JoinSpec& spec, const Multiset& left, const Multiset& right) {
  Multiset out;
  RowPacker p;
  auto emit = [&](RowRef l, RowRef r, std::int64_t w, bool l_null, bool r_null) {
    p.clear();
    if (l_null) {
      for (std::uint32_t i = 0; i < spec.left_arity; ++i) p.push_null();
    } else {
      p.push_row(l);
    }
    if (r_null) {
      for (std::uint32_t i = 0; i < spec.right_arity; ++i) p.push_null();
    } else {
      p.push_row(r);
    }
    add_to(out, p.row(), w);
  };
  std::set<std::string> right_matched;
  for (const auto& [lb, lw] : left) {
    std::string lk = pack_key_of(row_of(lb), spec.left_key);
    bool matched = false;
    for (const auto& [rb, rw] : right) {
      std::string rk = pack_key_of(row_of(rb), spec.right_key);
      if (key_has_null(lk) || lk != rk) continue;
      matched = true;
      right_matched.insert(rb);
      emit(row_of(lb), row_of(rb), lw * rw, false, false);
    }
    if (!matched && (spec.kind == JoinKind::Left || spec.kind == JoinKind::Full))
      emit(row_of(lb), RowRef(), lw, false, true);
  }
  if (spec.kind == JoinKind::Right || spec.kind == JoinKind::Full) {
    for (const auto& [rb, rw] : right) {
      if (!right_matched.contains(rb)) emit(RowRef(), row_of(rb), rw, true, false);
    }
  }
  return out;
}

Multiset eval_semi(const SemiJoinSpec& spec, const Multiset& left, const Multiset& right) {
  Multiset out;
  bool right_has_null = false;
  for (const auto& [rb, rw] : right)
    right_has_null = right_has_null || key_has_null(pack_key_of(row_of(rb), spec.right_key));
  for (const auto& [lb, lw] : left) {
    std::string lk = pack_key_of(row_of(lb), spec.left_key);
    bool match = false;
    for (const auto& [rb, rw] : right)
      match = match || (!key_has_null(lk) && lk == pack_key_of(row_of(rb), spec.right_key));
    bool pass = false;
    switch (spec.kind) {
      case SemiJoinKind::Exists:
      case SemiJoinKind::In: pass = match; break;
      case SemiJoinKind::NotExists: pass = !match; break;
      case SemiJoinKind::NotIn:
        // x NOT IN (S): true if S empty; else false if x matches, NULL if x
        // is NULL or S has a NULL, true otherwise.
        pass = right.empty() || (!match && !key_has_null(lk) && !right_has_null);
        break;
    }
    if (pass) add_to(out, row_of(lb), lw);
  }
  return out;
}

// string_agg / array_agg / json_agg from scratch: collect (key, value) pairs,
// sort them, print them.
void eval_collect(const AggregateSpec& agg, const std::vector<std::pair<std::string, std::int64_t>>& rows,
                  const Collation& collation, RowPacker& out) {
  std::vector<std::pair<RowRef, RowRef>> items;  // (row for the key, row for the value)
  std::vector<std::pair<DatumRef, DatumRef>> entries;
  for (const auto& [bytes, w] : rows) {
    RowRef row = row_of(bytes);
    if (agg.filter_column >= 0) {
      DatumRef f = row.at(static_cast<std::size_t>(agg.filter_column));
      if (f.is_null() || !f.as_bool()) continue;
    }
    DatumRef v = row.at(agg.column);
    if (v.is_null() && agg.kind == AggregateKind::StringAgg) continue;
    DatumRef k = agg.order_column >= 0 ? row.at(static_cast<std::size_t>(agg.order_column)) : v;
    if (agg.distinct) {
      bool seen = false;
      for (const auto& e : entries) seen = seen || compare_datums(e.second, v, collation) == 0;
      if (seen) continue;
      entries.emplace_back(k, v);
      continue;
    }
    for (std::int64_t i = 0; i < w; ++i) entries.emplace_back(k, v);
  }
  if (entries.empty()) {
    out.push_null();
    return;
  }
  std::stable_sort(entries.begin(), entries.end(), [&](const auto& a, const auto& b) {
    int c = compare_datums(a.first, b.first, collation);
    if (c != 0) return agg.order_descending ? c > 0 : c < 0;
    return compare_datums(a.second, b.second, collation) < 0;
  });
  if (agg.kind == AggregateKind::ArrayAgg) {
    RowPacker elements;
    for (const auto& e : entries) elements.push_datum(e.second);
    out.push_array(type_oid_for_kind(agg.input), elements.row());
    return;
  }
  std::string text = agg.kind == AggregateKind::JsonAgg ? "[" : "";
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i > 0) text += agg.kind == AggregateKind::JsonAgg ? ", " : agg.delimiter;
    DatumRef v = entries[i].second;
    if (agg.kind == AggregateKind::JsonAgg && v.is_null()) {
      text += "null";
    } else if (agg.kind == AggregateKind::JsonAgg && v.kind() == DatumKind::Text) {
      text += "\"" + std::string(v.as_text()) + "\"";
    } else {
      format_datum(v, text);
    }
  }
  if (agg.kind == AggregateKind::JsonAgg) {
    out.push_json(text + "]");
  } else {
    out.push_text(text);
  }
}

// json(b)_object_agg and the regression family from scratch: the (key or Y,
// value or X) pairs of the group, then the result printed or computed
// directly (object pairs in (ORDER BY key, value, key) order; sums of the
// test's small integers are exact in double).
void eval_pair(const AggregateSpec& agg, const std::vector<std::pair<std::string, std::int64_t>>& rows,
               const Collation& collation, RowPacker& out) {
  bool object = agg.kind == AggregateKind::JsonObjectAgg || agg.kind == AggregateKind::JsonbObjectAgg;
  struct Entry {
    DatumRef order;
    DatumRef a;  // key or Y
    DatumRef b;  // value or X
  };
  std::vector<Entry> entries;
  for (const auto& [bytes, w] : rows) {
    RowRef row = row_of(bytes);
    if (agg.filter_column >= 0) {
      DatumRef f = row.at(static_cast<std::size_t>(agg.filter_column));
      if (f.is_null() || !f.as_bool()) continue;
    }
    Entry e{agg.order_column >= 0 ? row.at(static_cast<std::size_t>(agg.order_column)) : DatumRef(),
            row.at(agg.column), row.at(static_cast<std::size_t>(agg.column2))};
    if (!object && (e.a.is_null() || e.b.is_null())) continue;
    if (agg.distinct) {
      bool seen = std::any_of(entries.begin(), entries.end(), [&](const Entry& x) {
        return compare_datums(x.a, e.a, collation) == 0 && compare_datums(x.b, e.b, collation) == 0;
      });
      if (!seen) entries.push_back(e);
      continue;
    }
    for (std::int64_t i = 0; i < w; ++i) entries.push_back(e);
  }
  auto n = static_cast<std::int64_t>(entries.size());
  if (agg.kind == AggregateKind::RegrCount) {
    out.push_int8(n);
    return;
  }
  if (n == 0) {
    out.push_null();
    return;
  }
  if (object) {
    std::stable_sort(entries.begin(), entries.end(), [&](const Entry& x, const Entry& y) {
      int c = agg.order_column >= 0 ? compare_datums(x.order, y.order, collation) : 0;
      if (c != 0) return agg.order_descending ? c > 0 : c < 0;
      c = compare_datums(x.b, y.b, collation);
      return c != 0 ? c < 0 : compare_datums(x.a, y.a, collation) < 0;
    });
    auto json = [](DatumRef d) {
      std::string t;
      if (d.is_null()) return std::string("null");
      format_datum(d, t);
      return d.kind() == DatumKind::Text ? "\"" + t + "\"" : t;
    };
    std::vector<std::pair<std::string, std::string>> pairs;
    for (const Entry& e : entries) {
      std::string key;
      format_datum(e.a, key);
      pairs.emplace_back(key, json(e.b));
    }
    std::string text;
    if (agg.kind == AggregateKind::JsonObjectAgg) {
      for (const auto& [k, v] : pairs) text += (text.empty() ? "{ \"" : ", \"") + k + "\" : " + v;
      out.push_json(text + " }");
      return;
    }
    std::stable_sort(pairs.begin(), pairs.end(), [](const auto& x, const auto& y) {
      return x.first.size() != y.first.size() ? x.first.size() < y.first.size() : x.first < y.first;
    });
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      if (i + 1 < pairs.size() && pairs[i + 1].first == pairs[i].first) continue;
      text += (text.empty() ? "{\"" : ", \"") + pairs[i].first + "\": " + pairs[i].second;
    }
    out.push_jsonb(text + "}");
    return;
  }
  double sx = 0;
  double sy = 0;
  double sxx = 0;
  double syy = 0;
  double sxy = 0;
  for (const Entry& e : entries) {
    auto y = static_cast<double>(e.a.as_int());
    auto x = static_cast<double>(e.b.as_int());
    sx += x;
    sy += y;
    sxx += x * x;
    syy += y * y;
    sxy += x * y;
  }
  auto N = static_cast<double>(n);
  double cxx = (N * sxx - sx * sx) / N;
  double cyy = (N * syy - sy * sy) / N;
  double cxy = (N * sxy - sx * sy) / N;
  switch (agg.kind) {
    case AggregateKind::RegrSxx: out.push_float8(cxx); return;
    case AggregateKind::RegrSyy: out.push_float8(cyy); return;
    case AggregateKind::RegrSxy: out.push_float8(cxy); return;
    case AggregateKind::RegrAvgX: out.push_float8(sx / N); return;
    case AggregateKind::RegrAvgY: out.push_float8(sy / N); return;
    case AggregateKind::CovarPop: out.push_float8(cxy / N); return;
    case AggregateKind::CovarSamp: n < 2 ? out.push_null() : out.push_float8(cxy / (N - 1)); return;
    case AggregateKind::Corr:
      cxx == 0 || cyy == 0 ? out.push_null() : out.push_float8(cxy / std::sqrt(cxx * cyy));
      return;
    case AggregateKind::RegrR2:
      cxx == 0 ? out.push_null() : out.push_float8(cyy == 0 ? 1.0 : (cxy * cxy) / (cxx * cyy));
      return;
    case AggregateKind::RegrSlope: cxx == 0 ? out.push_null() : out.push_float8(cxy / cxx); return;
    case AggregateKind::RegrIntercept:
      cxx == 0 ? out.push_null() : out.push_float8((sy - sx * cxy / cxx) / N);
      return;
    default: out.push_null(); return;
  }
}

// One aggregate from scratch over the group's rows.
void eval_aggregate(const AggregateSpec& agg, const std::vector<std::pair<std::string, std::int64_t>>& rows,
                    const Collation& collation, RowPacker& out) {
  if (agg.kind == AggregateKind::StringAgg || agg.kind == AggregateKind::ArrayAgg ||
      agg.kind == AggregateKind::JsonAgg) {
    eval_collect(agg, rows, collation, out);
    return;
  }
  if (is_two_argument(agg.kind)) {
    eval_pair(agg, rows, collation, out);
    return;
  }
  std::vector<std::pair<std::string, std::int64_t>> values;  // encoded datum, multiplicity
  std::int64_t count_star = 0;
  for (const auto& [bytes, w] : rows) {
    RowRef row = row_of(bytes);
    if (agg.filter_column >= 0) {
      DatumRef f = row.at(static_cast<std::size_t>(agg.filter_column));
      if (f.is_null() || !f.as_bool()) continue;
    }
    count_star += w;
    if (agg.kind == AggregateKind::CountStar) continue;
    DatumRef d = row.at(agg.column);
    if (d.is_null()) continue;
    std::string enc(reinterpret_cast<const char*>(d.encoded().data()), d.encoded().size());
    if (agg.distinct) {
      bool seen = std::any_of(values.begin(), values.end(), [&](const auto& v) {
        return compare_datums(DatumRef::decode(reinterpret_cast<const std::byte*>(v.first.data())), d,
                              collation) == 0;
      });
      if (!seen) values.emplace_back(enc, 1);
    } else {
      values.emplace_back(enc, w);
    }
  }
  auto datum = [](const std::string& s) {
    return DatumRef::decode(reinterpret_cast<const std::byte*>(s.data()));
  };
  std::int64_t n = 0;
  for (const auto& v : values) n += v.second;
  if (agg.kind == AggregateKind::CountStar) {
    out.push_int8(count_star);
    return;
  }
  if (agg.kind == AggregateKind::Count) {
    out.push_int8(n);
    return;
  }
  if (n == 0) {
    out.push_null();
    return;
  }
  switch (agg.kind) {
    case AggregateKind::Sum:
    case AggregateKind::Avg: {
      if (agg.input == DatumKind::Numeric) {
        Numeric sum;
        for (const auto& v : values)
          sum = sum.add(datum(v.first).as_numeric().mul(Numeric::from_int(v.second)));
        // Scale of the sum: the largest input scale (PostgreSQL's add rule).
        std::uint16_t scale = 0;
        for (const auto& v : values) scale = std::max(scale, datum(v.first).as_numeric().dscale());
        sum = sum.rescaled(scale);
        out.push_numeric(agg.kind == AggregateKind::Sum ? sum : sum.div_int(n));
        return;
      }
      Int128 sum = 0;
      for (const auto& v : values) sum += static_cast<Int128>(datum(v.first).as_int()) * v.second;
      if (agg.kind == AggregateKind::Avg) {
        out.push_numeric(Numeric::from_int128(sum).div_int(n));
      } else if (agg.input == DatumKind::Int8) {
        out.push_numeric(Numeric::from_int128(sum));
      } else {
        out.push_int8(static_cast<std::int64_t>(sum));
      }
      return;
    }
    case AggregateKind::Mode:
    case AggregateKind::PercentileDisc:
    case AggregateKind::PercentileCont: {
      std::vector<std::string> sorted;
      for (const auto& v : values) {
        for (std::int64_t i = 0; i < v.second; ++i) sorted.push_back(v.first);
      }
      std::stable_sort(sorted.begin(), sorted.end(), [&](const std::string& a, const std::string& b) {
        return compare_datums(datum(a), datum(b), collation) < 0;
      });
      if (agg.kind == AggregateKind::Mode) {
        std::size_t best = 0;
        std::size_t best_run = 0;
        for (std::size_t i = 0; i < sorted.size();) {
          std::size_t j = i;
          while (j < sorted.size() && compare_datums(datum(sorted[i]), datum(sorted[j]), collation) == 0) ++j;
          if (j - i > best_run) {
            best = i;
            best_run = j - i;
          }
          i = j;
        }
        out.push_datum(datum(sorted[best]));
        return;
      }
      auto count = static_cast<double>(sorted.size());
      auto one = [&](double fraction, RowPacker& o) {
        if (agg.kind == AggregateKind::PercentileDisc) {
          auto row = static_cast<std::size_t>(std::max(1.0, std::ceil(fraction * count)));
          o.push_datum(datum(sorted[row - 1]));
          return;
        }
        double position = fraction * (count - 1);
        auto lo = static_cast<std::size_t>(std::floor(position));
        auto hi = static_cast<std::size_t>(std::ceil(position));
        auto a = static_cast<double>(datum(sorted[lo]).as_int());
        auto b = static_cast<double>(datum(sorted[hi]).as_int());
        o.push_float8(lo == hi ? a : a + (position - static_cast<double>(lo)) * (b - a));
      };
      if (!agg.fraction_array) {
        one(agg.fraction, out);
        return;
      }
      RowPacker elements;
      for (const auto& f : agg.fractions) {
        if (f) {
          one(*f, elements);
        } else {
          elements.push_null();
        }
      }
      out.push_array(
          type_oid_for_kind(agg.kind == AggregateKind::PercentileDisc ? agg.input : DatumKind::Float8),
          elements.row());
      return;
    }
    case AggregateKind::VarPop:
    case AggregateKind::VarSamp:
    case AggregateKind::StddevPop:
    case AggregateKind::StddevSamp: {
      bool sample = agg.kind == AggregateKind::VarSamp || agg.kind == AggregateKind::StddevSamp;
      bool stddev = agg.kind == AggregateKind::StddevPop || agg.kind == AggregateKind::StddevSamp;
      if (sample && n < 2) {
        out.push_null();
        return;
      }
      Numeric sum;
      Numeric sq;
      for (const auto& v : values) {
        Numeric x = Numeric::from_int(datum(v.first).as_int());
        for (std::int64_t i = 0; i < v.second; ++i) {
          sum = sum.add(x);
          sq = sq.add(x.mul(x));
        }
      }
      Numeric numerator = Numeric::from_int(n).mul(sq).sub(sum.mul(sum));
      if (numerator.is_zero()) {
        out.push_numeric(Numeric());
        return;
      }
      Numeric variance = numerator.div(Numeric::from_int(n * (sample ? n - 1 : n)));
      out.push_numeric(stddev ? variance.sqrt_scaled(variance.dscale()) : variance);
      return;
    }
    case AggregateKind::Min:
    case AggregateKind::Max: {
      std::size_t best = 0;
      for (std::size_t i = 1; i < values.size(); ++i) {
        int c = compare_datums(datum(values[i].first), datum(values[best].first), collation);
        if (agg.kind == AggregateKind::Min ? c < 0 : c > 0) best = i;
      }
      out.push_datum(datum(values[best].first));
      return;
    }
    case AggregateKind::BoolAnd:
    case AggregateKind::BoolOr: {
      bool all = true;
      bool any = false;
      for (const auto& v : values) {
        all = all && datum(v.first).as_bool();
        any = any || datum(v.first).as_bool();
      }
      out.push_bool(agg.kind == AggregateKind::BoolAnd ? all : any);
      return;
    }
    case AggregateKind::BitAnd:
    case AggregateKind::BitOr:
    case AggregateKind::BitXor: {
      std::int64_t acc = agg.kind == AggregateKind::BitAnd ? -1 : 0;
      for (const auto& v : values) {
        for (std::int64_t i = 0; i < v.second; ++i) {
          std::int64_t x = datum(v.first).as_int();
          acc = agg.kind == AggregateKind::BitAnd  ? (acc & x)
                : agg.kind == AggregateKind::BitOr ? (acc | x)
                                                   : (acc ^ x);
        }
      }
      if (agg.input == DatumKind::Int4) {
        out.push_int4(static_cast<std::int32_t>(acc));
      } else if (agg.input == DatumKind::Int2) {
        out.push_int2(static_cast<std::int16_t>(acc));
      } else {
        out.push_int8(acc);
      }
      return;
    }
    default: out.push_null(); return;
  }
}

Multiset eval_reduce(const ReduceSpec& spec, const Multiset& input) {
  std::map<std::string, std::vector<std::pair<std::string, std::int64_t>>> groups;
  for (const auto& [bytes, w] : input)
    groups[pack_key_of(row_of(bytes), spec.group_key)].emplace_back(bytes, w);
  if (spec.group_key.empty() && groups.empty()) groups[""];
  Multiset out;
  RowPacker p;
  for (const auto& [key, rows] : groups) {
    p.clear();
    p.push_row(row_of(key));
    for (const AggregateSpec& agg : spec.aggregates) eval_aggregate(agg, rows, *spec.collation, p);
    add_to(out, p.row(), 1);
  }
  return out;
}

Multiset eval_top_k(const TopKSpec& spec, const Multiset& input) {
  std::map<std::string, std::vector<std::string>> partitions;
  for (const auto& [bytes, w] : input) {
    for (std::int64_t i = 0; i < w; ++i)
      partitions[pack_key_of(row_of(bytes), spec.partition)].push_back(bytes);
  }
  Multiset out;
  for (auto& [key, rows] : partitions) {
    std::sort(rows.begin(), rows.end(), [&](const std::string& a, const std::string& b) {
      return compare_rows(row_of(a), row_of(b), spec.order, *spec.collation, true) < 0;
    });
    std::uint64_t end = spec.offset;
    while (end < rows.size() && end - spec.offset < spec.limit) ++end;
    // WITH TIES: the rows that sort equal to the last one kept come along.
    while (spec.with_ties && end > spec.offset && end < rows.size() &&
           compare_rows(row_of(rows[end]), row_of(rows[end - 1]), spec.order, *spec.collation, false) == 0)
      ++end;
    for (std::uint64_t i = spec.offset; i < end; ++i) add_to(out, row_of(rows[i]), 1);
  }
  return out;
}

// Whether row j is in the frame of row i of a sorted partition, from the
// definitions (SQL:2011 / PostgreSQL's window frame docs) rather than by
// sliding positions: ROWS compares positions, GROUPS peer group numbers,
// RANGE the ORDER BY value (integers here; NULL is only near NULL).
bool in_frame(const WindowSpec& spec, const std::vector<std::string>& rows, std::size_t i, std::size_t j) {
  auto cmp = [&](std::size_t a, std::size_t b) {
    return compare_rows(row_of(rows[a]), row_of(rows[b]), spec.order, *spec.collation, false);
  };
  auto group = [&](std::size_t r) {
    std::int64_t g = 0;
    for (std::size_t k = 1; k <= r; ++k) g += cmp(k - 1, k) != 0 ? 1 : 0;
    return g;
  };
  // Position of j relative to the bound: <0 before it, 0 on it, >0 after it.
  auto relative = [&](const FrameBound& b) -> std::int64_t {
    if (b.kind == FrameBoundKind::UnboundedPreceding) return 1;
    if (b.kind == FrameBoundKind::UnboundedFollowing) return -1;
    std::int64_t off = b.kind == FrameBoundKind::Preceding   ? -b.offset
                       : b.kind == FrameBoundKind::Following ? b.offset
                                                             : 0;
    switch (spec.frame) {
      case WindowFrame::Rows: return static_cast<std::int64_t>(j) - static_cast<std::int64_t>(i) - off;
      case WindowFrame::Groups: return group(j) - group(i) - off;
      case WindowFrame::Range: {
        if (b.kind == FrameBoundKind::CurrentRow) return cmp(j, i);
        const SortKey& key = spec.order.front();
        DatumRef v = row_of(rows[j]).at(key.column);
        DatumRef c = row_of(rows[i]).at(key.column);
        if (v.is_null() || c.is_null()) {
          if (v.is_null() && c.is_null()) return 0;
          return v.is_null() == key.nulls_first ? -1 : 1;
        }
        std::int64_t distance = b.value.ref().at(0).as_int();
        if (b.kind == FrameBoundKind::Preceding) distance = -distance;
        std::int64_t target = c.as_int() + (key.descending ? -distance : distance);
        std::int64_t d = v.as_int() - target;
        if (d == 0) return 0;
        return (d > 0) != key.descending ? 1 : -1;
      }
    }
    return 0;
  };
  if (relative(spec.frame_start) < 0 || relative(spec.frame_end) > 0) return false;
  switch (spec.exclusion) {
    case FrameExclusion::NoOthers: return true;
    case FrameExclusion::CurrentRow: return j != i;
    case FrameExclusion::Group: return cmp(j, i) != 0;
    case FrameExclusion::Ties: return j == i || cmp(j, i) != 0;
  }
  return true;
}

// Window functions from scratch: sort each partition, then compute every
// function for every row directly from its definition.
Multiset eval_window(const WindowSpec& spec, const Multiset& input) {
  std::map<std::string, std::vector<std::string>> partitions;
  for (const auto& [bytes, w] : input) {
    for (std::int64_t i = 0; i < w; ++i)
      partitions[pack_key_of(row_of(bytes), spec.partition)].push_back(bytes);
  }
  Multiset out;
  RowPacker p;
  for (auto& partition : partitions) {
    std::vector<std::string>& rows = partition.second;
    std::sort(rows.begin(), rows.end(), [&](const std::string& a, const std::string& b) {
      return compare_rows(row_of(a), row_of(b), spec.order, *spec.collation, true) < 0;
    });
    const std::size_t n = rows.size();
    auto cmp = [&](std::size_t a, std::size_t b) {
      return compare_rows(row_of(rows[a]), row_of(rows[b]), spec.order, *spec.collation, false);
    };
    for (std::size_t i = 0; i < n; ++i) {
      std::vector<std::size_t> frame;  // positions in the frame, in order
      for (std::size_t j = 0; j < n; ++j) {
        if (in_frame(spec, rows, i, j)) frame.push_back(j);
      }
      p.clear();
      p.push_row(row_of(rows[i]));
      for (const WindowFunction& fn : spec.functions) {
        switch (fn.kind) {
          case WindowFunctionKind::RowNumber: p.push_int8(static_cast<std::int64_t>(i) + 1); break;
          case WindowFunctionKind::Rank: {
            std::int64_t before = 0;
            for (std::size_t j = 0; j < n; ++j) before += cmp(j, i) < 0 ? 1 : 0;
            p.push_int8(before + 1);
            break;
          }
          case WindowFunctionKind::DenseRank: {
            std::int64_t groups = 1;
            for (std::size_t j = 1; j <= i; ++j) groups += cmp(j - 1, j) != 0 ? 1 : 0;
            p.push_int8(groups);
            break;
          }
          case WindowFunctionKind::Ntile: {
            // Rows are dealt to buckets in order; bucket sizes differ by at most one.
            auto buckets = static_cast<std::size_t>(fn.argument);
            std::size_t bucket = 0;
            std::size_t start = 0;
            for (std::size_t b = 0; b < buckets; ++b) {
              std::size_t size = n / buckets + (b < n % buckets ? 1 : 0);
              if (i >= start && i < start + size) bucket = b;
              start += size;
            }
            p.push_int4(static_cast<std::int32_t>(bucket + 1));
            break;
          }
          case WindowFunctionKind::PercentRank: {
            std::int64_t before = 0;
            for (std::size_t j = 0; j < n; ++j) before += cmp(j, i) < 0 ? 1 : 0;
            p.push_float8(n > 1 ? static_cast<double>(before) / static_cast<double>(n - 1) : 0.0);
            break;
          }
          case WindowFunctionKind::CumeDist: {
            std::int64_t through = 0;
            for (std::size_t j = 0; j < n; ++j) through += cmp(j, i) <= 0 ? 1 : 0;
            p.push_float8(static_cast<double>(through) / static_cast<double>(n));
            break;
          }
          case WindowFunctionKind::Lag:
          case WindowFunctionKind::Lead: {
            std::int64_t j = static_cast<std::int64_t>(i) +
                             (fn.kind == WindowFunctionKind::Lag ? -fn.argument : fn.argument);
            if ((j < 0 || j >= static_cast<std::int64_t>(n)) && fn.default_column >= 0) {
              p.push_datum(row_of(rows[i]).at(static_cast<std::uint32_t>(fn.default_column)));
            } else if (j < 0 || j >= static_cast<std::int64_t>(n)) {
              p.push_null();
            } else {
              p.push_datum(row_of(rows[static_cast<std::size_t>(j)]).at(fn.column));
            }
            break;
          }
          case WindowFunctionKind::FirstValue:
          case WindowFunctionKind::LastValue:
          case WindowFunctionKind::NthValue: {
            std::size_t nth = fn.kind == WindowFunctionKind::FirstValue ? 0
                              : fn.kind == WindowFunctionKind::LastValue
                                  ? frame.size() - 1
                                  : static_cast<std::size_t>(fn.argument) - 1;
            if (nth < frame.size()) {
              p.push_datum(row_of(rows[frame[nth]]).at(fn.column));
            } else {
              p.push_null();
            }
            break;
          }
          case WindowFunctionKind::Aggregate: {
            std::vector<std::pair<std::string, std::int64_t>> frame_rows;
            for (std::size_t j : frame) frame_rows.emplace_back(rows[j], 1);
            eval_aggregate(fn.aggregate, frame_rows, *spec.collation, p);
            break;
          }
        }
      }
      add_to(out, p.row(), 1);
    }
  }
  return out;
}

Multiset eval_set(SetOperationKind kind, const Multiset& left, const Multiset& right) {
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> counts;
  RowPacker scratch;
  for (const auto& [b, w] : left) counts[key_of(normalize_row(row_of(b), scratch))].first += w;
  for (const auto& [b, w] : right) counts[key_of(normalize_row(row_of(b), scratch))].second += w;
  Multiset out;
  for (const auto& [b, c] : counts) {
    std::int64_t n = 0;
    switch (kind) {
      case SetOperationKind::Intersect: n = c.first > 0 && c.second > 0 ? 1 : 0; break;
      case SetOperationKind::IntersectAll: n = std::min(c.first, c.second); break;
      case SetOperationKind::Except: n = c.first > 0 && c.second == 0 ? 1 : 0; break;
      case SetOperationKind::ExceptAll: n = std::max<std::int64_t>(c.first - c.second, 0); break;
    }
    add_to(out, row_of(b), n);
  }
  return out;
}

}  // namespace

Multiset evaluate(const Plan& plan, const std::vector<Multiset>& sources) {
  std::vector<Multiset> in;
  for (const auto& p : plan.inputs) in.push_back(evaluate(*p, sources));
  Multiset out;
  switch (plan.kind) {
    case Plan::Kind::Source: return sources.at(plan.source);
    case Plan::Kind::MapFilter: {
      RowPacker p;
      for (const auto& [b, w] : in[0]) {
        if (plan.predicate && plan.predicate->test(row_of(b)) != Truth::True) continue;
        p.clear();
        if (plan.projections.empty()) {
          p.push_row(row_of(b));
        } else {
          for (const Projection& proj : plan.projections) {
            if (proj.expr) {
              proj.expr->evaluate(row_of(b), p);
            } else {
              p.push_datum(row_of(b).at(proj.column));
            }
          }
        }
        add_to(out, p.row(), w);
      }
      return out;
    }
    case Plan::Kind::Concat:
      for (const auto& m : in) {
        for (const auto& [b, w] : m) add_to(out, row_of(b), w);
      }
      return out;
    case Plan::Kind::Distinct: {
      RowPacker scratch;
      for (const auto& [b, w] : in[0]) {
        if (w > 0) out[key_of(normalize_row(row_of(b), scratch))] = 1;
      }
      return out;
    }
    case Plan::Kind::Join: return eval_join(plan.join, in[0], in[1]);
    case Plan::Kind::SemiJoin: return eval_semi(plan.semi, in[0], in[1]);
    case Plan::Kind::Reduce: return eval_reduce(plan.reduce, in[0]);
    case Plan::Kind::TopK: return eval_top_k(plan.top_k, in[0]);
    case Plan::Kind::SetOperation: return eval_set(plan.set_kind, in[0], in[1]);
    case Plan::Kind::FlatMap: {
      RowPacker scratch;
      RowPacker row;
      for (const auto& [b, w] : in[0]) {
        struct Ctx {
          Multiset* out;
          RowPacker* row;
          RowRef input;
          std::int64_t w;
        } ctx{&out, &row, row_of(b), w};
        plan.table_function->expand(
            row_of(b), scratch,
            [](void* raw, RowRef generated) {
              auto* c = static_cast<Ctx*>(raw);
              c->row->clear();
              c->row->push_row(c->input);
              c->row->push_row(generated);
              add_to(*c->out, c->row->row(), c->w);
            },
            &ctx);
      }
      return out;
    }
    case Plan::Kind::Window: return eval_window(plan.window, in[0]);
    case Plan::Kind::ScalarSubquery: {
      std::int64_t rows = 0;
      std::string value;
      for (const auto& [b, w] : in[1]) {
        rows += w;
        value = b;
      }
      if (rows > 1)
        throw pgstream::Error(pgstream::ErrorKind::Database, "more than one row", {.sqlstate = "21000"});
      RowPacker p;
      for (const auto& [b, w] : in[0]) {
        p.clear();
        p.push_row(row_of(b));
        if (rows == 0) {
          p.push_null();
        } else {
          p.push_row(row_of(value));
        }
        add_to(out, p.row(), w);
      }
      return out;
    }
  }
  return out;
}

}  // namespace pgstream::engine::testing
