// Private to the native evaluator: the node tree that compiled expressions
// become. Each node evaluates into its own reusable buffer and returns a view
// of the result (valid until the node is evaluated again); column nodes return
// a view into the input row. Not thread-safe (mutable scratch).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "pgstream/common/error.hpp"
#include "pgstream/engine/datum.hpp"
#include "pgstream/engine/row.hpp"
#include "pgstream/sql/logical_plan.hpp"

namespace pgstream::sql::eval {

class Node {
 public:
  explicit Node(engine::DatumKind kind) : kind_(kind) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;
  [[nodiscard]] virtual engine::DatumRef eval(engine::RowRef input) const = 0;
  [[nodiscard]] engine::DatumKind kind() const noexcept { return kind_; }

 protected:
  // Starts a result in the scratch buffer; finish() views it.
  engine::RowPacker& start() const {
    buf_.clear();
    return buf_;
  }
  [[nodiscard]] engine::DatumRef finish() const { return engine::DatumRef::decode(buf_.row().data()); }
  [[nodiscard]] engine::DatumRef null() const { return engine::DatumRef::decode(&kNull); }

 private:
  static constexpr std::byte kNull{0};
  engine::DatumKind kind_;
  mutable engine::RowPacker buf_;
};

using NodePtr = std::unique_ptr<Node>;

// Thrown while compiling: the node that is not evaluated natively.
struct NotNative {
  std::string what;
};

struct Compiler {
  std::span<const ColumnBinding> input;
  const engine::Collation* collation;
  [[nodiscard]] NodePtr compile(const Expr& expr) const;
  // `unknown_as`: the type an untyped literal argument takes ('2020-01-01'
  // beside a date), as PostgreSQL resolves unknown to its peers' type.
  [[nodiscard]] std::vector<NodePtr> compile_args(const Expr& expr,
                                                  const TypeRef* unknown_as = nullptr) const;
  [[nodiscard]] NodePtr compile_as(const Expr& expr, const TypeRef* unknown_as) const;
};

[[noreturn]] void throw_sql(const char* sqlstate, std::string message);
[[nodiscard]] std::string describe(const Expr& expr);
[[nodiscard]] engine::DatumKind kind_of(const TypeRef& type);

inline constexpr Oid kDefaultCollation = 100;
// The collation a routine applies to its arguments, as PostgreSQL derives it:
// an explicit COLLATE, else a non-default implicit one, else the default.
[[nodiscard]] Oid input_collation(const Expr& expr);
// "C" or "POSIX": bytewise order, ASCII-only case mapping.
[[nodiscard]] bool is_c_collation(Oid collation);

// evaluator_arith.cpp
[[nodiscard]] NodePtr make_arith(const Expr& expr, std::vector<NodePtr> args);
[[nodiscard]] NodePtr make_cast(const Expr& expr, NodePtr arg);
// `node` converted to `to` as PostgreSQL's implicit casts do, or NotNative.
[[nodiscard]] NodePtr coerce(NodePtr node, engine::DatumKind to);
// evaluator_numeric.cpp: PostgreSQL's numeric_div and numeric_mod.
[[nodiscard]] engine::Numeric numeric_div(const engine::Numeric& a, const engine::Numeric& b);
[[nodiscard]] engine::Numeric numeric_mod(const engine::Numeric& a, const engine::Numeric& b);
// evaluator_text.cpp
[[nodiscard]] NodePtr make_text_function(const Expr& expr, std::vector<NodePtr> args);

}  // namespace pgstream::sql::eval
