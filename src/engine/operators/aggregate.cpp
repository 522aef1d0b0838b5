#include "pgstream/engine/operators/aggregate.hpp"

#include <cmath>
#include <limits>

#include "pgstream/common/error.hpp"

namespace pgstream::engine {
namespace {

bool keeps_values(const AggregateSpec& spec) {
  return spec.distinct || spec.kind == AggregateKind::Min || spec.kind == AggregateKind::Max ||
         spec.kind == AggregateKind::BitAnd || spec.kind == AggregateKind::BitOr;
}

void push_int_of_kind(DatumKind kind, std::int64_t v, RowPacker& out) {
  switch (kind) {
    case DatumKind::Int2: out.push_int2(static_cast<std::int16_t>(v)); return;
    case DatumKind::Int4: out.push_int4(static_cast<std::int32_t>(v)); return;
    default: out.push_int8(v); return;
  }
}

}  // namespace

int ValueMultiset::add(DatumRef value, std::int64_t weight) {
  auto bytes = value.encoded();
  std::string key(reinterpret_cast<const char*>(bytes.data()), bytes.size());
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
    if (!values_) values_ = std::make_unique<ValueMultiset>(&collation);
    int change = values_->add(value, weight);
    if (spec.distinct) {
      if (change == 0) return;
      weight = change;  // DISTINCT: each value counts once while present
    }
  }
  add_value(spec, value, weight);
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
    default: out.push_null(); return;
  }
}

std::size_t Accumulator::bytes() const noexcept {
  std::size_t total = sizeof(Accumulator);
  if (numeric_sum_) total += sizeof(Numeric) + numeric_sum_->packed_size();
  if (scales_) total += scales_->size() * 48;
  if (values_) total += values_->distinct_count() * 64;  // map node + short string
  return total;
}

}  // namespace pgstream::engine
