#include "pgstream/engine/operators/aggregate.hpp"

#include <cmath>
#include <cstdio>
#include <limits>

#include "pgstream/common/error.hpp"

namespace pgstream::engine {
namespace {

bool collects(AggregateKind kind) {
  return kind == AggregateKind::StringAgg || kind == AggregateKind::ArrayAgg ||
         kind == AggregateKind::JsonAgg;
}

bool keeps_values(const AggregateSpec& spec) {
  return spec.distinct || spec.kind == AggregateKind::Min || spec.kind == AggregateKind::Max ||
         spec.kind == AggregateKind::BitAnd || spec.kind == AggregateKind::BitOr || collects(spec.kind) ||
         spec.kind == AggregateKind::Mode || spec.kind == AggregateKind::PercentileDisc ||
         spec.kind == AggregateKind::PercentileCont;
}

// Neumaier's compensated summation step.
void compensated_add(double& sum, double& comp, double x) {
  double t = sum + x;
  comp += std::fabs(sum) >= std::fabs(x) ? (sum - t) + x : (x - t) + sum;
  sum = t;
}

void append_json_string(std::string_view text, std::string& out) {
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// A datum as a JSON value (to_json's rules for the common kinds).
void append_json(DatumRef d, std::string& out) {
  if (d.is_null()) {
    out += "null";
    return;
  }
  std::string text;
  format_datum(d, text);
  switch (d.kind()) {
    case DatumKind::Bool: out += d.as_bool() ? "true" : "false"; return;
    case DatumKind::Int2:
    case DatumKind::Int4:
    case DatumKind::Int8:
    case DatumKind::Json:
    case DatumKind::Jsonb: out += text; return;
    case DatumKind::Float4:
    case DatumKind::Float8:
    case DatumKind::Numeric:
      // NaN and infinities are not JSON numbers: to_json quotes them.
      if (text == "NaN" || text == "Infinity" || text == "-Infinity") {
        append_json_string(text, out);
      } else {
        out += text;
      }
      return;
    default: append_json_string(text, out); return;
  }
}

void push_int_of_kind(DatumKind kind, std::int64_t v, RowPacker& out) {
  switch (kind) {
    case DatumKind::Int2: out.push_int2(static_cast<std::int16_t>(v)); return;
    case DatumKind::Int4: out.push_int4(static_cast<std::int32_t>(v)); return;
    default: out.push_int8(v); return;
  }
}

}  // namespace

bool ValueMultiset::Less::operator()(const std::string& a, const std::string& b) const {
  RowRef x(reinterpret_cast<const std::byte*>(a.data()), static_cast<std::uint32_t>(a.size()));
  RowRef y(reinterpret_cast<const std::byte*>(b.data()), static_cast<std::uint32_t>(b.size()));
  auto ix = x.begin();
  auto iy = y.begin();
  for (bool first = true; ix != x.end() && iy != y.end(); ++ix, ++iy, first = false) {
    int c = compare_datums(*ix, *iy, *collation);
    if (c != 0) return (first && descending) ? c > 0 : c < 0;
  }
  return false;  // equal under SQL order (1.0 and 1.00 are one value)
}

int ValueMultiset::add(DatumRef value, std::int64_t weight) {
  return add_entry(RowRef(value.encoded()), weight);
}

int ValueMultiset::add_entry(RowRef entry, std::int64_t weight) {
  std::string key(reinterpret_cast<const char*>(entry.data()), entry.size());
  auto [it, inserted] = values_.try_emplace(std::move(key), 0);
  std::int64_t before = it->second;
  it->second += weight;
  std::int64_t after = it->second;
  if (after == 0) values_.erase(it);
  if (before <= 0 && after > 0) return 1;
  if (before > 0 && after <= 0) return -1;
  return 0;
}

void Accumulator::add(const AggregateSpec& spec, DatumRef value, std::int64_t weight,
                      const Collation& collation) {
  if (spec.kind == AggregateKind::CountStar) {
    count_ += weight;
    return;
  }
  if (value.is_null()) return;
  if (keeps_values(spec)) {
    if (!values_) values_ = std::make_unique<ValueMultiset>(&collation, false);
    int change = values_->add(value, weight);
    if (spec.distinct) {
      if (change == 0) return;
      weight = change;  // DISTINCT: each value counts once while present
    }
  }
  add_value(spec, value, weight);
}

void Accumulator::add_row(const AggregateSpec& spec, RowRef row, std::int64_t weight,
                          const Collation& collation) {
  if (spec.filter_column >= 0) {
    DatumRef flag = row.at(static_cast<std::size_t>(spec.filter_column));
    if (flag.is_null() || !flag.as_bool()) return;
  }
  if (spec.kind == AggregateKind::CountStar) {
    count_ += weight;
    return;
  }
  DatumRef value = row.at(spec.column);
  if (!collects(spec.kind)) {
    add(spec, value, weight, collation);
    return;
  }
  if (value.is_null() && spec.kind == AggregateKind::StringAgg) return;
  if (!values_) values_ = std::make_unique<ValueMultiset>(&collation, spec.order_descending);
  RowPacker entry;
  if (spec.order_column >= 0) entry.push_datum(row.at(static_cast<std::size_t>(spec.order_column)));
  entry.push_datum(value);
  int change = values_->add_entry(entry.row(), weight);
  count_ += spec.distinct ? change : weight;
}

void Accumulator::add_value(const AggregateSpec& spec, DatumRef value, std::int64_t weight) {
  count_ += weight;
  switch (spec.kind) {
    case AggregateKind::Sum:
    case AggregateKind::Avg:
      if (value.is_integer()) {
        int_sum_ += static_cast<Int128>(value.as_int()) * weight;
      } else if (value.is_float()) {
        double v = value.as_double();
        if (std::isnan(v)) {
          nan_ += weight;
        } else if (std::isinf(v)) {
          (v > 0 ? pos_inf_ : neg_inf_) += weight;
        } else {
          double x = v * static_cast<double>(weight);
          double t = float_sum_ + x;
          float_comp_ += std::fabs(float_sum_) >= std::fabs(x) ? (float_sum_ - t) + x : (x - t) + float_sum_;
          float_sum_ = t;
        }
      } else if (value.kind() == DatumKind::Numeric) {
        Numeric n = value.as_numeric();
        if (n.is_nan()) {
          nan_ += weight;
        } else if (!n.is_finite()) {
          (n.special() == Numeric::Special::PosInf ? pos_inf_ : neg_inf_) += weight;
        } else {
          if (!numeric_sum_) numeric_sum_ = std::make_unique<Numeric>();
          if (!scales_) scales_ = std::make_unique<std::map<std::uint16_t, std::int64_t>>();
          *numeric_sum_ = numeric_sum_->add(n.mul(Numeric::from_int(weight)));
          auto& c = (*scales_)[n.dscale()];
          c += weight;
          if (c == 0) scales_->erase(n.dscale());
        }
      } else {
        throw Error(ErrorKind::Unsupported, "sum/avg of this type is not supported incrementally");
      }
      return;
    case AggregateKind::BoolAnd:
    case AggregateKind::BoolOr:
      if (!value.as_bool()) int_sum_ += weight;  // number of false values
      return;
    case AggregateKind::VarPop:
    case AggregateKind::VarSamp:
    case AggregateKind::StddevPop:
    case AggregateKind::StddevSamp:
      if (value.is_float()) {
        double v = value.as_double();
        compensated_add(float_sum_, float_comp_, v * static_cast<double>(weight));
        compensated_add(float_sq_, float_sq_comp_, v * v * static_cast<double>(weight));
      } else {
        Numeric n = value.is_integer() ? Numeric::from_int(value.as_int()) : value.as_numeric();
        if (!n.is_finite())
          throw Error(ErrorKind::Unsupported,
                      "variance of NaN or infinite numerics is not maintained incrementally");
        if (!numeric_sum_) numeric_sum_ = std::make_unique<Numeric>();
        if (!numeric_sq_) numeric_sq_ = std::make_unique<Numeric>();
        Numeric w = Numeric::from_int(weight);
        *numeric_sum_ = numeric_sum_->add(n.mul(w));
        *numeric_sq_ = numeric_sq_->add(n.mul(n).mul(w));
      }
      return;
    case AggregateKind::BitXor:
      if (weight % 2 != 0) int_sum_ ^= static_cast<Int128>(static_cast<std::uint64_t>(value.as_int()));
      return;
    default: return;  // count, min, max, bit_and, bit_or: count_ or values_ suffice
  }
}

void Accumulator::finish_sum(const AggregateSpec& spec, RowPacker& out) const {
  switch (spec.input) {
    case DatumKind::Int2:
    case DatumKind::Int4:
      if (int_sum_ > std::numeric_limits<std::int64_t>::max() ||
          int_sum_ < std::numeric_limits<std::int64_t>::min())
        throw Error(ErrorKind::Database, "bigint out of range", {.sqlstate = "22003"});
      out.push_int8(static_cast<std::int64_t>(int_sum_));
      return;
    case DatumKind::Int8: out.push_numeric(Numeric::from_int128(int_sum_)); return;
    case DatumKind::Float4:
    case DatumKind::Float8: {
      double v = float_sum_ + float_comp_;
      if (nan_ != 0 || (pos_inf_ != 0 && neg_inf_ != 0)) {
        v = std::numeric_limits<double>::quiet_NaN();
      } else if (pos_inf_ != 0 || neg_inf_ != 0) {
        v = pos_inf_ != 0 ? std::numeric_limits<double>::infinity()
                          : -std::numeric_limits<double>::infinity();
      }
      if (spec.input == DatumKind::Float4) {
        out.push_float4(static_cast<float>(v));
      } else {
        out.push_float8(v);
      }
      return;
    }
    default: {
      if (nan_ != 0 || (pos_inf_ != 0 && neg_inf_ != 0)) {
        out.push_numeric(Numeric::nan());
      } else if (pos_inf_ != 0 || neg_inf_ != 0) {
        out.push_numeric(Numeric::infinity(neg_inf_ != 0));
      } else {
        Numeric sum = numeric_sum_ ? *numeric_sum_ : Numeric();
        std::uint16_t scale = scales_ && !scales_->empty() ? scales_->rbegin()->first : 0;
        out.push_numeric(sum.rescaled(scale));
      }
      return;
    }
  }
}

void Accumulator::finish_avg(const AggregateSpec& spec, RowPacker& out) const {
  if (spec.input == DatumKind::Float4 || spec.input == DatumKind::Float8) {
    double v = (float_sum_ + float_comp_) / static_cast<double>(count_);
    if (nan_ != 0 || (pos_inf_ != 0 && neg_inf_ != 0)) {
      v = std::numeric_limits<double>::quiet_NaN();
    } else if (pos_inf_ != 0 || neg_inf_ != 0) {
      v = pos_inf_ != 0 ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
    }
    out.push_float8(v);
    return;
  }
  if (spec.input == DatumKind::Numeric) {
    if (nan_ != 0 || (pos_inf_ != 0 && neg_inf_ != 0)) {
      out.push_numeric(Numeric::nan());
      return;
    }
    if (pos_inf_ != 0 || neg_inf_ != 0) {
      out.push_numeric(Numeric::infinity(neg_inf_ != 0));
      return;
    }
    Numeric sum = numeric_sum_ ? *numeric_sum_ : Numeric();
    std::uint16_t scale = scales_ && !scales_->empty() ? scales_->rbegin()->first : 0;
    out.push_numeric(sum.rescaled(scale).div_int(count_));
    return;
  }
  out.push_numeric(Numeric::from_int128(int_sum_).div_int(count_));
}

void Accumulator::finish_variance(const AggregateSpec& spec, RowPacker& out) const {
  bool sample = spec.kind == AggregateKind::VarSamp || spec.kind == AggregateKind::StddevSamp;
  if (sample && count_ < 2) {
    out.push_null();
    return;
  }
  bool stddev = spec.kind == AggregateKind::StddevPop || spec.kind == AggregateKind::StddevSamp;
  if (spec.input == DatumKind::Float4 || spec.input == DatumKind::Float8) {
    auto n = static_cast<double>(count_);
    double sum = float_sum_ + float_comp_;
    double numerator = n * (float_sq_ + float_sq_comp_) - sum * sum;
    double v = numerator <= 0 ? 0.0 : numerator / (n * (sample ? n - 1 : n));
    out.push_float8(stddev ? std::sqrt(v) : v);
    return;
  }
  if (stddev) throw Error(ErrorKind::Unsupported, "stddev of integer or numeric input is not supported yet");
  // PostgreSQL's numeric_stddev_internal: (n * sum(x^2) - sum(x)^2) / (n * (n - 1) or n * n).
  Numeric n = Numeric::from_int(count_);
  Numeric sum = numeric_sum_ ? *numeric_sum_ : Numeric();
  Numeric sq = numeric_sq_ ? *numeric_sq_ : Numeric();
  Numeric numerator = n.mul(sq).sub(sum.mul(sum));
  if (numerator.compare(Numeric()) <= 0) {
    out.push_numeric(Numeric());
    return;
  }
  out.push_numeric(numerator.div_int(count_ * (sample ? count_ - 1 : count_)));
}

void Accumulator::finish_collect(const AggregateSpec& spec, RowPacker& out) const {
  bool ordered = spec.order_column >= 0;
  auto value_of = [&](RowRef entry) { return ordered ? entry.at(1) : entry.at(0); };
  if (spec.kind == AggregateKind::ArrayAgg) {
    RowPacker elements;
    values_->for_each_entry([&](RowRef entry, std::int64_t count) {
      for (std::int64_t i = 0; i < (spec.distinct ? 1 : count); ++i) elements.push_datum(value_of(entry));
    });
    out.push_array(type_oid_for_kind(spec.input), elements.row());
    return;
  }
  std::string text;
  if (spec.kind == AggregateKind::JsonAgg) text.push_back('[');
  bool first = true;
  values_->for_each_entry([&](RowRef entry, std::int64_t count) {
    for (std::int64_t i = 0; i < (spec.distinct ? 1 : count); ++i) {
      if (!first)
        text +=
            spec.kind == AggregateKind::JsonAgg ? std::string_view(", ") : std::string_view(spec.delimiter);
      first = false;
      if (spec.kind == AggregateKind::JsonAgg) {
        append_json(value_of(entry), text);
      } else {
        format_datum(value_of(entry), text);
      }
    }
  });
  if (spec.kind == AggregateKind::JsonAgg) {
    text.push_back(']');
    out.push_json(text);
  } else {
    out.push_text(text);
  }
}

// The ordered-set aggregates read the group's sorted multiset.
void Accumulator::finish_ordered_set(const AggregateSpec& spec, RowPacker& out) const {
  if (spec.kind == AggregateKind::Mode) {
    DatumRef best;
    std::int64_t best_count = 0;
    values_->for_each([&](DatumRef v, std::int64_t count) {
      if (count > best_count) {
        best = v;
        best_count = count;
      }
    });
    out.push_datum(best);
    return;
  }
  // PostgreSQL: percentile_disc takes the first value at or past position
  // ceil(f * n); percentile_cont interpolates between positions
  // floor(f * (n - 1)) and ceil(f * (n - 1)) (0-based).
  auto n = static_cast<double>(count_);
  auto target_disc = static_cast<std::int64_t>(std::ceil(spec.fraction * n));
  double position = spec.fraction * (n - 1);
  auto lo = static_cast<std::int64_t>(std::floor(position));
  auto hi = static_cast<std::int64_t>(std::ceil(position));
  DatumRef disc;
  DatumRef lo_value;
  DatumRef hi_value;
  std::int64_t seen = 0;
  values_->for_each([&](DatumRef v, std::int64_t count) {
    std::int64_t first = seen;  // 0-based positions [first, first + count)
    seen += count;
    if (disc.is_null() && seen >= std::max<std::int64_t>(target_disc, 1)) disc = v;
    if (lo >= first && lo < seen) lo_value = v;
    if (hi >= first && hi < seen) hi_value = v;
  });
  if (spec.kind == AggregateKind::PercentileDisc) {
    out.push_datum(disc);
    return;
  }
  auto as_double = [](DatumRef d) {
    if (d.is_integer()) return static_cast<double>(d.as_int());
    if (d.is_float()) return d.as_double();
    return d.as_numeric().to_double();
  };
  double a = as_double(lo_value);
  double b = as_double(hi_value);
  out.push_float8(lo == hi ? a : a + (position - static_cast<double>(lo)) * (b - a));
}

void Accumulator::finish(const AggregateSpec& spec, RowPacker& out) const {
  if (spec.kind == AggregateKind::CountStar || spec.kind == AggregateKind::Count) {
    out.push_int8(count_);
    return;
  }
  if (count_ <= 0) {
    out.push_null();
    return;
  }
  switch (spec.kind) {
    case AggregateKind::Sum: finish_sum(spec, out); return;
    case AggregateKind::Avg: finish_avg(spec, out); return;
    case AggregateKind::Min: out.push_datum(values_->min()); return;
    case AggregateKind::Max: out.push_datum(values_->max()); return;
    case AggregateKind::BoolAnd: out.push_bool(int_sum_ == 0); return;
    case AggregateKind::BoolOr: out.push_bool(count_ - int_sum_ > 0); return;
    case AggregateKind::BitAnd:
    case AggregateKind::BitOr: {
      bool is_and = spec.kind == AggregateKind::BitAnd;
      std::int64_t acc = is_and ? -1 : 0;
      values_->for_each(
          [&](DatumRef v, std::int64_t) { acc = is_and ? (acc & v.as_int()) : (acc | v.as_int()); });
      push_int_of_kind(spec.input, acc, out);
      return;
    }
    case AggregateKind::BitXor:
      push_int_of_kind(spec.input, static_cast<std::int64_t>(static_cast<std::uint64_t>(int_sum_)), out);
      return;
    case AggregateKind::StringAgg:
    case AggregateKind::ArrayAgg:
    case AggregateKind::JsonAgg: finish_collect(spec, out); return;
    case AggregateKind::Mode:
    case AggregateKind::PercentileDisc:
    case AggregateKind::PercentileCont: finish_ordered_set(spec, out); return;
    case AggregateKind::VarPop:
    case AggregateKind::VarSamp:
    case AggregateKind::StddevPop:
    case AggregateKind::StddevSamp: finish_variance(spec, out); return;
    default: out.push_null(); return;
  }
}

std::size_t Accumulator::bytes() const noexcept {
  std::size_t total = sizeof(Accumulator);
  if (numeric_sum_) total += sizeof(Numeric) + numeric_sum_->packed_size();
  if (numeric_sq_) total += sizeof(Numeric) + numeric_sq_->packed_size();
  if (scales_) total += scales_->size() * 48;
  if (values_) total += values_->distinct_count() * 64;  // map node + short string
  return total;
}

}  // namespace pgstream::engine
