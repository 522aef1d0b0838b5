#include "pgstream/engine/operators/window.hpp"

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>

#include "pgstream/engine/operators/ordered_partitions.hpp"

namespace pgstream::engine {
namespace {

bool peers(const WindowSpec& spec, RowRef a, RowRef b) {
  return compare_rows(a, b, spec.order, *spec.collation, false) == 0;
}

constexpr std::int64_t kInfinity = INT64_MAX;  // timestamp 'infinity' (-infinity is INT64_MIN)

std::int32_t days_in_month(std::int64_t year, unsigned month) {
  static constexpr std::int32_t days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return days[month - 1] + (month == 2 && leap ? 1 : 0);
}

// A date, timestamp or timestamptz as microseconds (infinities stay at the
// int64 extremes, as date2timestamp maps them).
Int128 as_micros(DatumRef d) {
  if (d.kind() != DatumKind::Date) return d.as_int8();
  std::int32_t days = d.as_date();
  if (days == INT32_MAX) return kInfinity;
  if (days == INT32_MIN) return -kInfinity - 1;
  return static_cast<Int128>(days) * kMicrosPerDay;
}

// timestamp_pl_interval (timestamp_mi_interval with `sub`): months first,
// the day clamped to the new month's length, then days, then microseconds;
// infinities stay. timestamptz is taken in UTC (no DST days).
Int128 plus_interval(Int128 ts, const Interval& span, bool sub) {
  if (ts >= kInfinity || ts <= -kInfinity - 1) return ts;
  const std::int64_t sign = sub ? -1 : 1;
  if (span.months != 0) {
    auto micros = static_cast<std::int64_t>(ts);
    std::int64_t days = micros / kMicrosPerDay - (micros % kMicrosPerDay < 0 ? 1 : 0);
    std::int64_t time_of_day = micros - days * kMicrosPerDay;
    std::int64_t year = 0;
    unsigned month = 0;
    unsigned day = 0;
    civil_from_days(static_cast<std::int32_t>(days), year, month, day);
    std::int64_t months = year * 12 + month - 1 + sign * span.months;
    year = months / 12 - (months % 12 < 0 ? 1 : 0);
    month = static_cast<unsigned>(months - year * 12 + 1);
    day = std::min<unsigned>(day, static_cast<unsigned>(days_in_month(year, month)));
    ts = static_cast<Int128>(days_from_civil(year, month, day)) * kMicrosPerDay + time_of_day;
  }
  return ts + sign * (static_cast<Int128>(span.days) * kMicrosPerDay + span.micros);
}

// PostgreSQL's in_range support functions (in_range_int8_int8,
// in_range_numeric_numeric, in_range_float8_float8, in_range_timestamp_interval,
// in_range_time_interval): is `value` >= (or, with `less`, <=) base + offset
// (or base - offset with `sub`)? NaN is equal to NaN and greater than
// everything; infinite base and offset of opposite direction count as in
// range (their sum would be NaN).
bool in_range(DatumRef value, DatumRef base, DatumRef offset, bool sub, bool less) {
  switch (value.kind()) {
    case DatumKind::Date:
    case DatumKind::Timestamp:
    case DatumKind::TimestampTz: {
      Int128 v = as_micros(value);
      Int128 sum = plus_interval(as_micros(base), offset.as_interval(), sub);
      return less ? v <= sum : v >= sum;
    }
    case DatumKind::Time: {  // no wrap-around; only the interval's time part counts
      Int128 sum = static_cast<Int128>(base.as_time()) +
                   (sub ? -1 : 1) * static_cast<Int128>(offset.as_interval().micros);
      return less ? value.as_time() <= sum : value.as_time() >= sum;
    }
    default: break;
  }
  if (value.is_integer()) {
    Int128 sum = static_cast<Int128>(base.as_int()) + (sub ? -1 : 1) * static_cast<Int128>(offset.as_int());
    Int128 v = value.as_int();
    return less ? v <= sum : v >= sum;
  }
  if (value.is_float()) {
    double v = value.as_double();
    double b = base.as_double();
    double o = offset.as_double();
    if (std::isnan(v)) return std::isnan(b) ? true : !less;
    if (std::isnan(b)) return less;
    if (std::isinf(o) && std::isinf(b) && (sub ? b > 0 : b < 0)) return true;
    double sum = sub ? b - o : b + o;
    return less ? v <= sum : v >= sum;
  }
  Numeric v = value.as_numeric();
  Numeric b = base.as_numeric();
  Numeric o = offset.as_numeric();
  if (v.is_nan()) return b.is_nan() ? true : !less;
  if (b.is_nan()) return less;
  if (!o.is_finite() && !b.is_finite() && (sub ? !b.negative() : b.negative())) return true;
  int c = v.compare(sub ? b.sub(o) : b.add(o));
  return less ? c <= 0 : c >= 0;
}

// The rows of one ordered partition with their peer groups.
struct Partition {
  const std::vector<RowRef>& rows;
  std::vector<std::size_t> group_start;  // start of each peer group, then rows.size()
  std::vector<std::size_t> group_of;     // per row
};

// RANGE with an offset: the first row at or after the frame start, or
// after the frame end (nodeWindowAgg.c's update_frameheadpos/tailpos).
// NULLs are only in range of NULLs.
std::size_t range_bound(const WindowSpec& spec, const Partition& p, std::size_t i, bool start) {
  const SortKey& key = spec.order.front();
  const FrameBound& bound = start ? spec.frame_start : spec.frame_end;
  DatumRef current = p.rows[i].at(key.column);
  DatumRef offset = bound.value.ref().at(0);
  bool sub = bound.kind == FrameBoundKind::Preceding;
  bool less = !start;
  if (key.descending) {
    sub = !sub;
    less = !less;
  }
  // Monotone over the sorted partition: rows before the bound satisfy `before`.
  auto before = [&](RowRef row) {
    DatumRef v = row.at(key.column);
    if (v.is_null() || current.is_null()) {
      if (v.is_null() && current.is_null()) return !start;
      return v.is_null() == key.nulls_first;
    }
    bool ok = in_range(v, current, offset, sub, less);
    return start ? !ok : ok;
  };
  return static_cast<std::size_t>(std::partition_point(p.rows.begin(), p.rows.end(), before) -
                                  p.rows.begin());
}

// [begin, end) of the frame of row i, before exclusion; end >= begin.
std::pair<std::size_t, std::size_t> frame_of(const WindowSpec& spec, const Partition& p, std::size_t i) {
  const std::size_t n = p.rows.size();
  const std::size_t g = p.group_of[i];
  const std::size_t groups = p.group_start.size() - 1;
  auto bound = [&](const FrameBound& b, bool start) -> std::size_t {
    // Offsets beyond the partition are clamped (they may be huge).
    auto k = static_cast<std::size_t>(std::min<std::int64_t>(b.offset, static_cast<std::int64_t>(n) + 1));
    switch (b.kind) {
      case FrameBoundKind::UnboundedPreceding: return 0;
      case FrameBoundKind::UnboundedFollowing: return n;
      case FrameBoundKind::CurrentRow:
        if (spec.frame == WindowFrame::Rows) return start ? i : i + 1;
        return start ? p.group_start[g] : p.group_start[g + 1];
      case FrameBoundKind::Preceding:
      case FrameBoundKind::Following: break;
    }
    bool preceding = b.kind == FrameBoundKind::Preceding;
    switch (spec.frame) {
      case WindowFrame::Rows: {
        std::size_t first = start ? i : i + 1;  // the bound row itself is in the frame
        return preceding ? (first > k ? first - k : 0) : std::min(n, first + k);
      }
      case WindowFrame::Groups: {
        std::size_t edge = start ? g : g + 1;
        std::size_t target = preceding ? (edge > k ? edge - k : 0) : std::min(groups, edge + k);
        return p.group_start[target];
      }
      case WindowFrame::Range: return range_bound(spec, p, i, start);
    }
    return 0;
  };
  std::size_t begin = bound(spec.frame_start, true);
  std::size_t end = bound(spec.frame_end, false);
  return {begin, std::max(begin, end)};
}

// The frame of row i minus the excluded rows: at most three ranges.
struct Ranges {
  std::array<std::pair<std::size_t, std::size_t>, 3> items;
  std::size_t count = 0;
  void add(std::size_t b, std::size_t e) {
    if (b < e) items[count++] = {b, e};
  }
};

Ranges frame_ranges(const WindowSpec& spec, const Partition& p, std::size_t i, std::size_t begin,
                    std::size_t end) {
  Ranges out;
  std::size_t gs = p.group_start[p.group_of[i]];
  std::size_t ge = p.group_start[p.group_of[i] + 1];
  auto cut = [&](std::size_t from, std::size_t to) {  // the frame minus [from, to)
    out.add(begin, std::min(end, from));
    out.add(std::max(begin, to), end);
  };
  switch (spec.exclusion) {
    case FrameExclusion::NoOthers: out.add(begin, end); break;
    case FrameExclusion::CurrentRow: cut(i, i + 1); break;
    case FrameExclusion::Group: cut(gs, ge); break;
    case FrameExclusion::Ties:
      out.add(begin, std::min(end, gs));
      out.add(std::max(begin, i), std::min(end, i + 1));
      out.add(std::max(begin, ge), end);
      break;
  }
  return out;
}

// The n-th (0-based) row of the ranges, or none.
const RowRef* nth_row(const Partition& p, const Ranges& ranges, std::size_t nth) {
  for (std::size_t r = 0; r < ranges.count; ++r) {
    auto [b, e] = ranges.items[r];
    if (nth < e - b) return &p.rows[b + nth];
    nth -= e - b;
  }
  return nullptr;
}

// A sliding aggregate over [begin, end): frames only move forward.
struct Sliding {
  Accumulator acc;
  std::size_t begin = 0;
  std::size_t end = 0;
  void move_to(const AggregateSpec& agg, const Partition& p, std::size_t b, std::size_t e,
               const Collation& c) {
    for (; end < e; ++end) acc.add_row(agg, p.rows[end], 1, c);
    for (; begin < b; ++begin) acc.add_row(agg, p.rows[begin], -1, c);
  }
};

void push_value(RowPacker& out, const RowRef* row, std::uint32_t column) {
  if (row == nullptr) {
    out.push_null();
  } else {
    out.push_datum(row->at(column));
  }
}

}  // namespace

void compute_window(const WindowSpec& spec, const std::vector<RowRef>& rows,
                    void (*emit)(void*, std::size_t, RowRef), void* context) {
  const std::size_t n = rows.size();
  Partition p{rows, {}, std::vector<std::size_t>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    if (i == 0 || !peers(spec, rows[i - 1], rows[i])) p.group_start.push_back(i);
    p.group_of[i] = p.group_start.size() - 1;
  }
  p.group_start.push_back(n);
  std::vector<Sliding> sliding(spec.functions.size());
  RowPacker out;
  for (std::size_t i = 0; i < n; ++i) {
    auto [begin, end] = frame_of(spec, p, i);
    Ranges ranges = frame_ranges(spec, p, i, begin, end);
    out.clear();
    for (std::size_t f = 0; f < spec.functions.size(); ++f) {
      const WindowFunction& fn = spec.functions[f];
      switch (fn.kind) {
        case WindowFunctionKind::RowNumber: out.push_int8(static_cast<std::int64_t>(i) + 1); break;
        case WindowFunctionKind::Rank:
          out.push_int8(static_cast<std::int64_t>(p.group_start[p.group_of[i]]) + 1);
          break;
        case WindowFunctionKind::DenseRank:
          out.push_int8(static_cast<std::int64_t>(p.group_of[i]) + 1);
          break;
        case WindowFunctionKind::Ntile: {
          // PostgreSQL: the first n % buckets buckets get one extra row.
          auto buckets = static_cast<std::size_t>(fn.argument);
          std::size_t per = n / buckets;
          std::size_t extra = n % buckets;
          std::size_t big = extra * (per + 1);
          std::size_t bucket = i < big ? i / (per + 1) : extra + (i - big) / std::max<std::size_t>(per, 1);
          out.push_int4(static_cast<std::int32_t>(bucket + 1));
          break;
        }
        case WindowFunctionKind::Lag:
        case WindowFunctionKind::Lead: {
          auto offset = fn.kind == WindowFunctionKind::Lag ? -fn.argument : fn.argument;
          auto j = static_cast<std::int64_t>(i) + offset;
          if ((j < 0 || j >= static_cast<std::int64_t>(n)) && fn.default_column >= 0) {
            out.push_datum(rows[i].at(static_cast<std::uint32_t>(fn.default_column)));
          } else if (j < 0 || j >= static_cast<std::int64_t>(n)) {
            out.push_null();
          } else {
            out.push_datum(rows[static_cast<std::size_t>(j)].at(fn.column));
          }
          break;
        }
        case WindowFunctionKind::FirstValue: push_value(out, nth_row(p, ranges, 0), fn.column); break;
        case WindowFunctionKind::LastValue: {
          const RowRef* last = nullptr;
          if (ranges.count > 0) last = &rows[ranges.items[ranges.count - 1].second - 1];
          push_value(out, last, fn.column);
          break;
        }
        case WindowFunctionKind::PercentRank: {
          const auto rank = static_cast<double>(p.group_start[p.group_of[i]]);
          out.push_float8(n > 1 ? rank / static_cast<double>(n - 1) : 0.0);
          break;
        }
        case WindowFunctionKind::CumeDist: {
          const auto through = static_cast<double>(p.group_start[p.group_of[i] + 1]);
          out.push_float8(through / static_cast<double>(n));
          break;
        }
        case WindowFunctionKind::NthValue:
          push_value(out, nth_row(p, ranges, static_cast<std::size_t>(fn.argument - 1)), fn.column);
          break;
        case WindowFunctionKind::Aggregate: {
          Sliding& s = sliding[f];
          s.move_to(fn.aggregate, p, begin, end, *spec.collation);
          // Excluded rows leave the accumulator for this row only.
          std::size_t from = begin;
          for (std::size_t r = 0; r <= ranges.count; ++r) {
            std::size_t to = r < ranges.count ? ranges.items[r].first : end;
            for (std::size_t j = from; j < to; ++j) s.acc.add_row(fn.aggregate, rows[j], -1, *spec.collation);
            if (r < ranges.count) from = ranges.items[r].second;
          }
          s.acc.finish(fn.aggregate, out);
          from = begin;
          for (std::size_t r = 0; r <= ranges.count; ++r) {
            std::size_t to = r < ranges.count ? ranges.items[r].first : end;
            for (std::size_t j = from; j < to; ++j) s.acc.add_row(fn.aggregate, rows[j], 1, *spec.collation);
            if (r < ranges.count) from = ranges.items[r].second;
          }
          break;
        }
      }
    }
    emit(context, i, out.row());
  }
}

Window::Window(WindowSpec spec)
    : spec_(std::move(spec)),
      partitions_(std::make_unique<OrderedPartitions>(spec_.partition, spec_.order, *spec_.collation)) {}

Window::~Window() = default;

std::size_t Window::state_bytes() const { return partitions_->bytes(); }

void Window::emit_partition(const OrderedPartitions::Rows& rows, std::int64_t sign, ZSet& out) {
  std::vector<RowRef>& ordered = ordered_;
  ordered.clear();
  for (OrderedPartitions::Entry e : rows) {
    for (std::int64_t k = 0; k < e.weight; ++k) ordered.push_back(e.row);
  }
  struct Context {
    Window* self;
    const std::vector<RowRef>* rows;
    ZSet* out;
    std::int64_t sign;
  } ctx{this, &ordered, &out, sign};
  compute_window(
      spec_, ordered,
      [](void* raw, std::size_t i, RowRef columns) {
        auto* c = static_cast<Context*>(raw);
        c->self->out_.clear();
        c->self->out_.push_row((*c->rows)[i]);
        c->self->out_.push_row(columns);
        c->out->add(c->self->out_.row(), c->sign);
      },
      &ctx);
}

void Window::step(std::span<const ZSet* const> inputs, ZSet& output) {
  const ZSet& delta = *inputs[0];
  if (delta.empty()) return;
  changes_.clear();
  partitions_->update(delta, [&](const OrderedPartitions::Rows& rows, std::int64_t sign) {
    emit_partition(rows, sign, changes_);
  });
  changes_.consolidate();
  output.add_all(changes_);
}

}  // namespace pgstream::engine
