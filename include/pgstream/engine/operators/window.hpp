// Window: window functions over PARTITION BY / ORDER BY.
//
// Contract: each output row is an input row followed by one column per
// window function. Rows of a partition are ordered by the sort keys, ties
// by row bytes (deterministic; PostgreSQL leaves their order unspecified, so
// row_number among peers may legitimately differ from the server's).
// Functions: row_number, rank, dense_rank, ntile(n), lag/lead(column,
// offset) (NULL default), first_value, last_value, and the aggregates of
// aggregate.hpp over the frame: the whole partition without ORDER BY, else
// PostgreSQL's default RANGE UNBOUNDED PRECEDING .. CURRENT ROW (peers
// included) or ROWS UNBOUNDED PRECEDING .. CURRENT ROW. first/last_value use
// the same frame. Each epoch only partitions touched by the delta are
// recomputed: their old rows are retracted and new rows inserted
// (consolidated, so unchanged rows cost nothing downstream).
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
};

enum class WindowFrame : std::uint8_t { Range, Rows };

struct WindowFunction {
  WindowFunctionKind kind = WindowFunctionKind::RowNumber;
  std::uint32_t column = 0;   // lag/lead/first/last_value argument
  std::int64_t argument = 1;  // ntile buckets, lag/lead offset
  AggregateSpec aggregate;    // kind == Aggregate
};

struct WindowSpec {
  std::vector<std::uint32_t> partition;
  std::vector<SortKey> order;
  WindowFrame frame = WindowFrame::Range;
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
};

// Computes the window columns of one ordered partition (each row repeated
// by its multiplicity, in order) and calls emit(row_index, packed columns).
// Shared with the reference evaluator of the tests, which feeds it a
// from-scratch sort.
void compute_window(const WindowSpec& spec, const std::vector<RowRef>& ordered,
                    void (*emit)(void*, std::size_t, RowRef), void* context);

}  // namespace pgstream::engine
