#include "pgstream/engine/operators/window.hpp"

#include "pgstream/engine/operators/ordered_partitions.hpp"

namespace pgstream::engine {
namespace {

RowRef as_row(const std::string& s) { return OrderedPartitions::row_of(s); }

bool peers(const WindowSpec& spec, RowRef a, RowRef b) {
  return compare_rows(a, b, spec.order, *spec.collation, false) == 0;
}

// [begin, end) of the frame of row i: the partition, or up to the row's
// last peer (RANGE), or up to the row itself (ROWS).
std::size_t frame_end(const WindowSpec& spec, const std::vector<RowRef>& rows, std::size_t i) {
  if (spec.order.empty()) return rows.size();
  if (spec.frame == WindowFrame::Rows) return i + 1;
  std::size_t end = i + 1;
  while (end < rows.size() && peers(spec, rows[i], rows[end])) ++end;
  return end;
}

}  // namespace

void compute_window(const WindowSpec& spec, const std::vector<RowRef>& rows,
                    void (*emit)(void*, std::size_t, RowRef), void* context) {
  const std::size_t n = rows.size();
  // Running aggregates: one accumulator per aggregate function, advanced
  // to each row's frame end (frames only grow within a partition).
  std::vector<Accumulator> running(spec.functions.size());
  std::vector<std::size_t> added(spec.functions.size(), 0);
  RowPacker out;
  std::int64_t rank = 1;
  std::int64_t dense_rank = 1;
  for (std::size_t i = 0; i < n; ++i) {
    if (i > 0 && !peers(spec, rows[i - 1], rows[i])) {
      rank = static_cast<std::int64_t>(i) + 1;
      ++dense_rank;
    }
    std::size_t end = frame_end(spec, rows, i);
    out.clear();
    for (std::size_t f = 0; f < spec.functions.size(); ++f) {
      const WindowFunction& fn = spec.functions[f];
      switch (fn.kind) {
        case WindowFunctionKind::RowNumber: out.push_int8(static_cast<std::int64_t>(i) + 1); break;
        case WindowFunctionKind::Rank: out.push_int8(rank); break;
        case WindowFunctionKind::DenseRank: out.push_int8(dense_rank); break;
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
          if (j < 0 || j >= static_cast<std::int64_t>(n)) {
            out.push_null();
          } else {
            out.push_datum(rows[static_cast<std::size_t>(j)].at(fn.column));
          }
          break;
        }
        case WindowFunctionKind::FirstValue: out.push_datum(rows[0].at(fn.column)); break;
        case WindowFunctionKind::LastValue: out.push_datum(rows[end - 1].at(fn.column)); break;
        case WindowFunctionKind::Aggregate: {
          for (; added[f] < end; ++added[f])
            running[f].add_row(fn.aggregate, rows[added[f]], 1, *spec.collation);
          running[f].finish(fn.aggregate, out);
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
  std::vector<RowRef> ordered;
  for (const auto& [bytes, count] : rows) {
    for (std::int64_t k = 0; k < count; ++k) ordered.push_back(as_row(bytes));
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
