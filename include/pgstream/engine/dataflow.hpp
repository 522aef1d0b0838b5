// Dataflow: a DAG of incremental operators run once per epoch.
//
// Contract: nodes are added in topological order (an operator's inputs must
// exist when it is added), so creation order is the run order. Each epoch,
// callers stage the changes of one or more whole source transactions with
// input(source), then call step(): every operator runs once, reading its
// inputs' deltas and writing its own. After step() returns, delta(node) of
// every node marked with output() is the consolidated, exact difference of
// that node's collection between the previous epoch and this one. If an
// operator throws (a SQL error such as division by zero), step() rethrows,
// no delta of that epoch is visible, and the dataflow is failed: its state is
// no longer trustworthy, every later step() throws, and the owner rebuilds
// it from a snapshot (stream table: needs_reinit). One dataflow may feed
// another: pass one's output delta to the other's input() in the same epoch.
// Arrangements are shared: arrange() returns the existing arrangement when
// the same node is already arranged by the same key. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgstream/engine/arrangement.hpp"
#include "pgstream/engine/zset.hpp"

namespace pgstream::engine {

using NodeId = std::uint32_t;

// An incremental operator: an immutable plan node plus the state it needs.
class Operator {
 public:
  virtual ~Operator() = default;
  // Computes this epoch's output delta from the deltas of the inputs (in the
  // order given to Dataflow::add). `output` is empty on entry.
  virtual void step(std::span<const ZSet* const> inputs, ZSet& output) = 0;
  [[nodiscard]] virtual std::string_view name() const = 0;
  // Bytes of state the operator holds (arrangements it owns, groups, ...).
  [[nodiscard]] virtual std::size_t state_bytes() const { return 0; }
};

class Dataflow {
 public:
  Dataflow() = default;
  Dataflow(const Dataflow&) = delete;
  Dataflow& operator=(const Dataflow&) = delete;

  // A collection fed from outside (a source table, or another dataflow).
  NodeId add_source(std::string name);
  // Adds an operator reading `inputs`. REQUIRES: every input already exists.
  NodeId add(std::unique_ptr<Operator> op, std::vector<NodeId> inputs);
  template <class Op, class... Args>
  NodeId add(std::vector<NodeId> inputs, Args&&... args) {
    return add(std::make_unique<Op>(std::forward<Args>(args)...), std::move(inputs));
  }
  // The arrangement of node's collection by key_columns, maintained from
  // this epoch on (shared: arranging the same node by the same key twice
  // returns the same arrangement). REQUIRES: called before the operators
  // that read it are added.
  const Arrangement* arrange(NodeId node, std::vector<std::uint32_t> key_columns);
  // Marks a node whose delta the caller reads (consolidated after each step).
  void output(NodeId node);

  // Changes staged for the next step() of a source.
  [[nodiscard]] ZSet& input(NodeId source);
  // Runs one epoch. Throws what an operator threw; the dataflow is then failed.
  void step();
  [[nodiscard]] const ZSet& delta(NodeId node) const { return nodes_[node].delta; }
  // Frees the buffers of every node's delta and staged changes, which keep
  // the size of the biggest epoch so far; deltas read as empty afterwards.
  // Call between epochs, after an unusually big one (a snapshot load).
  void release_buffers() noexcept;

  [[nodiscard]] std::uint64_t epoch() const noexcept { return epoch_; }
  [[nodiscard]] bool failed() const noexcept { return failed_; }
  [[nodiscard]] std::size_t node_count() const noexcept { return nodes_.size(); }
  [[nodiscard]] std::size_t arrangement_count() const noexcept { return arranged_.size(); }
  // Bytes of state of every operator and arrangement.
  [[nodiscard]] std::size_t state_bytes() const;
  // The operator tree that computes `root`, one node per line, indented by
  // depth, each with the arrangements kept of its collection (by key
  // columns) and its state bytes; a node reached twice (shared) is printed
  // once and referred to as "(shared: #id)" afterwards.
  [[nodiscard]] std::string explain(NodeId root) const;

 private:
  struct Node {
    std::string name;
    std::unique_ptr<Operator> op;  // null for a source
    std::vector<NodeId> inputs;
    ZSet staged;  // sources only
    ZSet delta;
    bool is_output = false;
  };
  struct Arranged {
    NodeId node;
    std::vector<std::uint32_t> key;
    NodeId arrange_node;
  };

  std::vector<Node> nodes_;
  std::vector<Arranged> arranged_;
  std::uint64_t epoch_ = 0;
  bool failed_ = false;
};

}  // namespace pgstream::engine
