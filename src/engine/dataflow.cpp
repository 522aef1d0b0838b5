#include "pgstream/engine/dataflow.hpp"

#include "pgstream/common/error.hpp"

namespace pgstream::engine {
namespace {

// Maintains a shared arrangement of its input; its own delta is empty
// (readers take the input's delta from the input node itself).
class ArrangeOp final : public Operator {
 public:
  explicit ArrangeOp(std::vector<std::uint32_t> key) : arrangement_(std::move(key)) {}
  void step(std::span<const ZSet* const> inputs, ZSet& /*output*/) override {
    arrangement_.apply(*inputs[0]);
  }
  [[nodiscard]] std::string_view name() const override { return "arrange"; }
  [[nodiscard]] std::size_t state_bytes() const override { return arrangement_.bytes(); }
  [[nodiscard]] const Arrangement* arrangement() const { return &arrangement_; }

 private:
  Arrangement arrangement_;
};

}  // namespace

NodeId Dataflow::add_source(std::string name) {
  Node node;
  node.name = std::move(name);
  nodes_.push_back(std::move(node));
  return static_cast<NodeId>(nodes_.size() - 1);
}

NodeId Dataflow::add(std::unique_ptr<Operator> op, std::vector<NodeId> inputs) {
  for (NodeId in : inputs) {
    if (in >= nodes_.size()) throw Error(ErrorKind::Internal, "dataflow operator added before its input");
  }
  Node node;
  node.name = std::string(op->name());
  node.op = std::move(op);
  node.inputs = std::move(inputs);
  nodes_.push_back(std::move(node));
  return static_cast<NodeId>(nodes_.size() - 1);
}

const Arrangement* Dataflow::arrange(NodeId node, std::vector<std::uint32_t> key_columns) {
  for (const Arranged& a : arranged_) {
    if (a.node == node && a.key == key_columns)
      return static_cast<const ArrangeOp*>(nodes_[a.arrange_node].op.get())->arrangement();
  }
  NodeId id = add(std::make_unique<ArrangeOp>(key_columns), {node});
  arranged_.push_back({node, std::move(key_columns), id});
  return static_cast<const ArrangeOp*>(nodes_[id].op.get())->arrangement();
}

void Dataflow::output(NodeId node) { nodes_.at(node).is_output = true; }

std::string Dataflow::explain(NodeId root) const {
  std::string out;
  std::vector<bool> printed(nodes_.size(), false);
  auto print = [&](auto&& self, NodeId id, int depth) -> void {
    const Node& node = nodes_.at(id);
    out.append(static_cast<std::size_t>(depth) * 2, ' ');
    out += "#" + std::to_string(id) + " " + node.name;
    if (printed[id]) {
      out += " (shared: #" + std::to_string(id) + ")\n";
      return;
    }
    printed[id] = true;
    for (const Arranged& a : arranged_) {
      if (a.node != id) continue;
      out += " [arranged by (";
      for (std::size_t k = 0; k < a.key.size(); ++k) out += (k > 0 ? ", " : "") + std::to_string(a.key[k]);
      out += ")]";
    }
    out += "\n";
    for (NodeId input : node.inputs) self(self, input, depth + 1);
  };
  print(print, root, 0);
  return out;
}

ZSet& Dataflow::input(NodeId source) {
  Node& node = nodes_.at(source);
  if (node.op) throw Error(ErrorKind::Internal, "dataflow input() on a node that is not a source");
  return node.staged;
}

void Dataflow::step() {
  if (failed_)
    throw Error(ErrorKind::Internal, "dataflow failed in an earlier epoch",
                {.hint = "rebuild the stream table from a snapshot"});
  try {
    std::vector<const ZSet*> inputs;
    for (Node& node : nodes_) {
      node.delta.clear();
      if (!node.op) {
        std::swap(node.delta, node.staged);
      } else {
        inputs.clear();
        for (NodeId in : node.inputs) inputs.push_back(&nodes_[in].delta);
        node.op->step(inputs, node.delta);
      }
      if (node.is_output) node.delta.consolidate();
    }
    ++epoch_;
  } catch (...) {
    failed_ = true;
    for (Node& node : nodes_) {
      node.delta.clear();
      node.staged.clear();
    }
    throw;
  }
}

std::size_t Dataflow::state_bytes() const {
  std::size_t total = 0;
  for (const Node& node : nodes_) {
    if (node.op) total += node.op->state_bytes();
  }
  return total;
}

void Dataflow::release_buffers() noexcept {
  for (Node& node : nodes_) {
    node.delta.release();
    node.staged.release();
  }
}

}  // namespace pgstream::engine
