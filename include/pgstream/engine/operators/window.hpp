// Window: window functions over PARTITION BY / ORDER BY.
//
// Contract: each output row is an input row followed by one column per
// window function. Rows of a partition are ordered by the sort keys, ties
// by row bytes (deterministic; PostgreSQL leaves their order unspecified, so
// row_number, or a ROWS frame among peers, may legitimately differ from the
// server's). Functions: row_number, rank, dense_rank, ntile(n),
// lag/lead(column, offset) (NULL default), and over the frame: first_value,
// last_value, nth_value(column, n) and the aggregates of aggregate.hpp.
// Frames are PostgreSQL's: ROWS, RANGE or GROUPS BETWEEN start AND end,
// each bound UNBOUNDED PRECEDING/FOLLOWING, CURRENT ROW (RANGE/GROUPS:
// the first/last peer) or a constant offset n PRECEDING/FOLLOWING (rows,
// peer groups, or for RANGE a value distance on the single ORDER BY
// column: integers, numeric, floats, or an interval over date, time,
// timestamp and timestamptz (taken in UTC)),
// with EXCLUDE NO OTHERS / CURRENT ROW / GROUP / TIES. Offsets are
// constants. An empty frame gives NULL (count: 0). Without ORDER BY all
// rows are peers. The default frame is RANGE UNBOUNDED PRECEDING ..
// CURRENT ROW. REQUIRES (checked by the binder, as PostgreSQL does):
// offsets >= 0, start not UNBOUNDED FOLLOWING, end not UNBOUNDED
// PRECEDING, a start of CURRENT ROW or FOLLOWING has no PRECEDING end (and
// FOLLOWING no CURRENT ROW end), GROUPS and RANGE offsets need ORDER BY
// (RANGE offsets exactly one key). Each epoch only partitions touched by
// the delta are recomputed: their old rows are retracted and new rows
// inserted (consolidated, so unchanged rows cost nothing downstream);
// aggregates slide over the frame (O(n) per partition for count/sum/avg,
// O(n log n) for min/max; EXCLUDE GROUP/TIES add the peer group per row).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pgstream/engine/dataflow.hpp"
#include "pgstream/engine/operators/aggregate.hpp"
#include "pgstream/engine/operators/ordered_partitions.hpp"
#include "pgstream/engine/operators/top_k.hpp"
#include "pgstream/engine/row_index.hpp"

namespace pgstream::engine {

enum class WindowFunctionKind : std::uint8_t {
  RowNumber,
  Rank,
  DenseRank,
  Ntile,
  Lag,
  Lead,
  FirstValue,
  LastValue,
  Aggregate,
  NthValue,
  PercentRank,  // (rank - 1) / (rows - 1), float8
  CumeDist,     // (rows up to the last peer) / rows, float8
};

// The frame's unit (FRAMEOPTION_ROWS / RANGE / GROUPS).
enum class WindowFrame : std::uint8_t { Range, Rows, Groups };

enum class FrameBoundKind : std::uint8_t {
  UnboundedPreceding,
  Preceding,
  CurrentRow,
  Following,
  UnboundedFollowing,
};

struct FrameBound {
  FrameBoundKind kind = FrameBoundKind::CurrentRow;
  std::int64_t offset = 0;  // ROWS: rows, GROUPS: peer groups
  Row value;                // RANGE: the offset, one datum (int8, numeric, float8 or interval)
  static FrameBound unbounded_preceding() { return {FrameBoundKind::UnboundedPreceding, 0, {}}; }
  static FrameBound preceding(std::int64_t n) { return {FrameBoundKind::Preceding, n, {}}; }
  static FrameBound current_row() { return {FrameBoundKind::CurrentRow, 0, {}}; }
  static FrameBound following(std::int64_t n) { return {FrameBoundKind::Following, n, {}}; }
  static FrameBound unbounded_following() { return {FrameBoundKind::UnboundedFollowing, 0, {}}; }
};

enum class FrameExclusion : std::uint8_t { NoOthers, CurrentRow, Group, Ties };

struct WindowFunction {
  WindowFunctionKind kind = WindowFunctionKind::RowNumber;
  std::uint32_t column = 0;          // lag/lead/first/last/nth_value argument
  std::int64_t argument = 1;         // ntile buckets, lag/lead offset, nth_value's n (>= 1)
  std::int32_t default_column = -1;  // lag/lead's default (a column of the current row); -1: NULL
  AggregateSpec aggregate;           // kind == Aggregate
};

struct WindowSpec {
  std::vector<std::uint32_t> partition;
  std::vector<SortKey> order;
  WindowFrame frame = WindowFrame::Range;
  FrameBound frame_start = FrameBound::unbounded_preceding();
  FrameBound frame_end = FrameBound::current_row();
  FrameExclusion exclusion = FrameExclusion::NoOthers;
  std::vector<WindowFunction> functions;
  const Collation* collation = &c_collation();
};

class Window final : public Operator {
 public:
  explicit Window(WindowSpec spec);
  ~Window() override;
  void step(std::span<const ZSet* const> inputs, ZSet& output) override;
  [[nodiscard]] std::string_view name() const override { return "window"; }
  [[nodiscard]] std::size_t state_bytes() const override;

 private:
  void emit_partition(const OrderedPartitions::Rows& rows, std::int64_t sign, ZSet& out);

  WindowSpec spec_;
  std::unique_ptr<OrderedPartitions> partitions_;  // borrows spec_'s keys
  ZSet changes_;
  RowPacker out_;
  std::vector<RowRef> ordered_;  // the partition being emitted
};

// Computes the window columns of one ordered partition (each row repeated
// by its multiplicity, in order) and calls emit(row_index, packed columns).
// Shared with the reference evaluator of the tests, which feeds it a
// from-scratch sort.
void compute_window(const WindowSpec& spec, const std::vector<RowRef>& ordered,
                    void (*emit)(void*, std::size_t, RowRef), void* context);

}  // namespace pgstream::engine
