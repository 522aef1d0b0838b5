// The native evaluator's front: compile dispatch, column references and
// constants, comparisons, and the logical/conditional forms (AND/OR/NOT,
// IS [NOT] NULL/TRUE/FALSE/UNKNOWN, IS DISTINCT FROM, IN, CASE, COALESCE,
// NULLIF, GREATEST/LEAST).
#include "pgstream/sql/evaluator.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include "evaluator_nodes.hpp"
#include "pgstream/engine/datum_io.hpp"

namespace pgstream::sql {
namespace eval {

using engine::DatumKind;
using engine::DatumRef;
using engine::RowRef;

void throw_sql(const char* sqlstate, std::string message) {
  throw Error(ErrorKind::Database, std::move(message), {.sqlstate = sqlstate});
}

std::string describe(const Expr& expr) {
  switch (expr.kind) {
    case ExprKind::Function: return "the function " + expr.name + "()";
    case ExprKind::Operator: return "the operator " + expr.name;
    case ExprKind::Cast: return "the cast to " + expr.name;
    case ExprKind::Column: return "a correlated column reference";
    case ExprKind::Array: return "ARRAY[...]";
    case ExprKind::Row: return "ROW(...)";
    case ExprKind::Subscript: return "an array subscript";
    case ExprKind::FieldSelect: return "a field selection";
    case ExprKind::ArrayOp: return "the operator " + expr.name + " ANY/ALL (array)";
    case ExprKind::Subquery: return "a subquery";
    case ExprKind::InList: return "IN (...)";
    case ExprKind::Aggregate: return "the aggregate " + expr.name + "()";
    case ExprKind::Window: return "the window function " + expr.name + "()";
    default: return "this expression";
  }
}

Oid input_collation(const Expr& expr) {
  for (const ExprPtr& arg : expr.args) {  // an explicit COLLATE wins
    if (arg && arg->kind == ExprKind::Collate) return arg->type.collation;
  }
  for (const ExprPtr& arg : expr.args) {  // then a non-default implicit one
    if (arg && arg->type.collation != 0 && arg->type.collation != kDefaultCollation)
      return arg->type.collation;
  }
  return kDefaultCollation;
}

bool is_c_collation(Oid collation) {
  constexpr Oid kC = 950;
  constexpr Oid kPosix = 951;
  return collation == kC || collation == kPosix;
}

DatumKind kind_of(const TypeRef& type) {
  if (type.oid == 705) return DatumKind::Text;  // unknown: an untyped literal
  return engine::kind_for_type_oid(type.oid);
}

namespace {

// ---- leaves -------------------------------------------------------------

class ColumnNode final : public Node {
 public:
  ColumnNode(DatumKind kind, std::size_t index) : Node(kind), index_(index) {}
  DatumRef eval(RowRef input) const override { return input.at(index_); }

 private:
  std::size_t index_;
};

class ConstNode final : public Node {
 public:
  ConstNode(DatumKind kind, engine::RowPacker value) : Node(kind), value_(std::move(value)) {}
  DatumRef eval(RowRef) const override { return DatumRef::decode(value_.row().data()); }

 private:
  engine::RowPacker value_;
};

NodePtr make_column(const Compiler& c, const Expr& expr) {
  if (expr.outer) throw NotNative{describe(expr)};
  const auto it = std::find(c.input.begin(), c.input.end(), expr.binding);
  if (it == c.input.end()) {
    throw Error(ErrorKind::Internal, "column " + expr.name + " is not in the evaluator's input row");
  }
  return std::make_unique<ColumnNode>(kind_of(expr.type),
                                      static_cast<std::size_t>(std::distance(c.input.begin(), it)));
}

// The value of a literal as the binder spells it: numbers and booleans as
// written, strings quoted by PQescapeLiteral ('it''s', or " E'a\\b'" when it
// holds a backslash).
std::string literal_value(const std::string& literal) {
  std::string_view quoted = literal;
  while (quoted.starts_with(' ')) quoted.remove_prefix(1);
  const bool escaped = quoted.starts_with("E'");
  if (escaped) quoted.remove_prefix(1);
  if (quoted.size() < 2 || !quoted.starts_with('\'') || !quoted.ends_with('\'')) return literal;
  const std::string_view body = quoted.substr(1, quoted.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < body.size(); ++i) {
    out += body[i];
    const bool doubled = body[i] == '\'' || (escaped && body[i] == '\\');
    if (doubled && i + 1 < body.size() && body[i + 1] == body[i]) ++i;
  }
  return out;
}

NodePtr make_const(const Expr& expr) {
  const DatumKind kind = kind_of(expr.type);
  if (kind == DatumKind::PassThrough || kind == DatumKind::Array) throw NotNative{"a constant of this type"};
  engine::RowPacker value;
  if (expr.is_null) {
    value.push_null();
    return std::make_unique<ConstNode>(DatumKind::Null, std::move(value));  // fits any type
  }
  if (kind == DatumKind::TimestampTz)
    throw NotNative{"a timestamptz literal (its input depends on TimeZone)"};
  if (kind == DatumKind::Bool && (expr.literal == "true" || expr.literal == "false")) {
    value.push_bool(expr.literal == "true");
  } else {
    const std::string text = literal_value(expr.literal);
    try {
      engine::parse_datum(expr.type.oid == 705 ? engine::type_oid::kText : expr.type.oid, text, value);
    } catch (const Error&) {
      throw NotNative{"the literal " + expr.literal + " (left to the server's input function)"};
    }
  }
  return std::make_unique<ConstNode>(kind, std::move(value));
}

// ---- comparison ---------------------------------------------------------

enum class CmpOp : std::uint8_t { Eq, Ne, Lt, Le, Gt, Ge };

bool parse_cmp(std::string_view name, CmpOp& op) {
  static constexpr std::array<std::pair<std::string_view, CmpOp>, 6> kOps = {{{"=", CmpOp::Eq},
                                                                              {"<>", CmpOp::Ne},
                                                                              {"<", CmpOp::Lt},
                                                                              {"<=", CmpOp::Le},
                                                                              {">", CmpOp::Gt},
                                                                              {">=", CmpOp::Ge}}};
  for (const auto& [text, value] : kOps) {
    if (text == name) {
      op = value;
      return true;
    }
  }
  return false;
}

bool is_int(DatumKind k) { return k == DatumKind::Int2 || k == DatumKind::Int4 || k == DatumKind::Int8; }
bool is_flt(DatumKind k) { return k == DatumKind::Float4 || k == DatumKind::Float8; }

bool orderable(DatumKind k) {
  switch (k) {
    case DatumKind::Null:
    case DatumKind::Json:
    case DatumKind::Jsonb:
    case DatumKind::Array:
    case DatumKind::PassThrough: return false;
    default: return true;
  }
}

// Whether compare_datums() gives PostgreSQL's answer for these two kinds.
bool comparable(DatumKind a, DatumKind b) {
  if (a == DatumKind::Null || b == DatumKind::Null) return true;  // NULL constant: the result is NULL
  if (!orderable(a) || !orderable(b)) return false;
  return a == b || (is_int(a) && is_int(b)) || (is_flt(a) && is_flt(b));
}

// The ordering of text for an ordering comparison: "C"/"POSIX" are bytewise,
// the database default is the caller's Collation, any other is not native.
const engine::Collation& ordering(const Compiler& c, const Expr& expr) {
  const Oid collation = input_collation(expr);
  if (collation == kDefaultCollation) return *c.collation;
  if (is_c_collation(collation)) return engine::c_collation();
  throw NotNative{describe(expr) + " under collation " + std::to_string(collation)};
}

void require_comparable(const Expr& expr, const Node& a, const Node& b) {
  if (!comparable(a.kind(), b.kind())) throw NotNative{"the operator " + expr.name + " on these types"};
}

// Three-way comparison of two non-null datums.
int compare(DatumRef a, DatumRef b, const engine::Collation& collation) {
  if (a.kind() == DatumKind::Text || a.kind() == DatumKind::Bpchar) {
    return collation.compare(a.as_text(), b.as_text());
  }
  return engine::compare_datums(a, b, collation);
}

// SQL equality of two non-null datums (text equality is bytewise).
bool equal(DatumRef a, DatumRef b, const engine::Collation& collation) {
  if (a.kind() == DatumKind::Text || a.kind() == DatumKind::Bpchar) return a.as_text() == b.as_text();
  return compare(a, b, collation) == 0;
}

bool apply(CmpOp op, DatumRef a, DatumRef b, const engine::Collation& collation) {
  if (op == CmpOp::Eq) return equal(a, b, collation);
  if (op == CmpOp::Ne) return !equal(a, b, collation);
  const int c = compare(a, b, collation);
  switch (op) {
    case CmpOp::Lt: return c < 0;
    case CmpOp::Le: return c <= 0;
    case CmpOp::Gt: return c > 0;
    default: return c >= 0;
  }
}

class CompareNode final : public Node {
 public:
  CompareNode(CmpOp op, NodePtr a, NodePtr b, const engine::Collation& collation)
      : Node(DatumKind::Bool), op_(op), a_(std::move(a)), b_(std::move(b)), collation_(collation) {}
  DatumRef eval(RowRef input) const override {
    const DatumRef a = a_->eval(input);
    if (a.is_null()) return null();
    const DatumRef b = b_->eval(input);
    if (b.is_null()) return null();
    start().push_bool(apply(op_, a, b, collation_));
    return finish();
  }

 private:
  CmpOp op_;
  NodePtr a_, b_;
  const engine::Collation& collation_;
};

class DistinctNode final : public Node {
 public:
  DistinctNode(bool not_distinct, NodePtr a, NodePtr b, const engine::Collation& collation)
      : Node(DatumKind::Bool),
        not_distinct_(not_distinct),
        a_(std::move(a)),
        b_(std::move(b)),
        collation_(collation) {}
  DatumRef eval(RowRef input) const override {
    const DatumRef a = a_->eval(input);
    const DatumRef b = b_->eval(input);
    bool same = a.is_null() && b.is_null();
    if (!a.is_null() && !b.is_null()) same = equal(a, b, collation_);
    start().push_bool(same == not_distinct_);
    return finish();
  }

 private:
  bool not_distinct_;
  NodePtr a_, b_;
  const engine::Collation& collation_;
};

// l IN (v...) (any equal) or l NOT IN (v...) (all unequal), three-valued.
class InListNode final : public Node {
 public:
  InListNode(bool negated, std::vector<NodePtr> args, const engine::Collation& collation)
      : Node(DatumKind::Bool), negated_(negated), args_(std::move(args)), collation_(collation) {}
  DatumRef eval(RowRef input) const override {
    const DatumRef l = args_[0]->eval(input);
    if (l.is_null()) return null();
    bool saw_null = false;
    for (std::size_t i = 1; i < args_.size(); ++i) {
      const DatumRef v = args_[i]->eval(input);
      if (v.is_null()) {
        saw_null = true;
      } else if (equal(l, v, collation_)) {
        start().push_bool(!negated_);
        return finish();
      }
    }
    if (saw_null) return null();
    start().push_bool(negated_);
    return finish();
  }

 private:
  bool negated_;
  std::vector<NodePtr> args_;
  const engine::Collation& collation_;
};

// ---- logic --------------------------------------------------------------

// Truth of a boolean datum: 0 false, 1 true, 2 unknown.
int truth(DatumRef d) { return d.is_null() ? 2 : (d.as_bool() ? 1 : 0); }

class BoolNode final : public Node {
 public:
  BoolNode(BoolOp op, std::vector<NodePtr> args) : Node(DatumKind::Bool), op_(op), args_(std::move(args)) {}
  DatumRef eval(RowRef input) const override {
    if (op_ == BoolOp::Not) {
      const int t = truth(args_[0]->eval(input));
      return t == 2 ? null() : result(t == 0);
    }
    // AND: any false is false; OR: any true is true; else NULL if any NULL.
    const int decisive = op_ == BoolOp::And ? 0 : 1;
    bool saw_null = false;
    for (const NodePtr& arg : args_) {
      const int t = truth(arg->eval(input));
      if (t == decisive) return result(decisive == 1);
      saw_null = saw_null || t == 2;
    }
    return saw_null ? null() : result(decisive == 0);
  }

 private:
  DatumRef result(bool v) const {
    start().push_bool(v);
    return finish();
  }
  BoolOp op_;
  std::vector<NodePtr> args_;
};

// IS [NOT] NULL (test 0) and IS [NOT] TRUE/FALSE/UNKNOWN (test 1/2/3).
class TestNode final : public Node {
 public:
  TestNode(int test, bool negated, NodePtr arg)
      : Node(DatumKind::Bool), test_(test), negated_(negated), arg_(std::move(arg)) {}
  DatumRef eval(RowRef input) const override {
    const DatumRef d = arg_->eval(input);
    bool v = false;
    switch (test_) {
      case 0: v = d.is_null(); break;
      case 1: v = truth(d) == 1; break;
      case 2: v = truth(d) == 0; break;
      default: v = d.is_null(); break;
    }
    start().push_bool(v != negated_);
    return finish();
  }

 private:
  int test_;
  bool negated_;
  NodePtr arg_;
};

// ---- conditionals -------------------------------------------------------

// CASE [arg] WHEN w THEN t ... [ELSE e] END.
class CaseNode final : public Node {
 public:
  CaseNode(DatumKind kind, NodePtr arg, std::vector<NodePtr> whens, NodePtr otherwise,
           const engine::Collation& collation)
      : Node(kind),
        arg_(std::move(arg)),
        whens_(std::move(whens)),
        else_(std::move(otherwise)),
        collation_(collation) {}
  DatumRef eval(RowRef input) const override {
    const DatumRef subject = arg_ ? arg_->eval(input) : DatumRef{};
    for (std::size_t i = 0; i + 1 < whens_.size(); i += 2) {
      const DatumRef w = whens_[i]->eval(input);
      const bool hit =
          arg_ ? !subject.is_null() && !w.is_null() && equal(subject, w, collation_) : truth(w) == 1;
      if (hit) return whens_[i + 1]->eval(input);
    }
    return else_ ? else_->eval(input) : null();
  }

 private:
  NodePtr arg_;
  std::vector<NodePtr> whens_;
  NodePtr else_;
  const engine::Collation& collation_;
};

class CoalesceNode final : public Node {
 public:
  CoalesceNode(DatumKind kind, std::vector<NodePtr> args) : Node(kind), args_(std::move(args)) {}
  DatumRef eval(RowRef input) const override {
    for (const NodePtr& arg : args_) {
      const DatumRef d = arg->eval(input);
      if (!d.is_null()) return d;
    }
    return null();
  }

 private:
  std::vector<NodePtr> args_;
};

class NullIfNode final : public Node {
 public:
  NullIfNode(DatumKind kind, NodePtr a, NodePtr b, const engine::Collation& collation)
      : Node(kind), a_(std::move(a)), b_(std::move(b)), collation_(collation) {}
  DatumRef eval(RowRef input) const override {
    const DatumRef a = a_->eval(input);
    if (a.is_null()) return a;
    const DatumRef b = b_->eval(input);
    return !b.is_null() && equal(a, b, collation_) ? null() : a;
  }

 private:
  NodePtr a_, b_;
  const engine::Collation& collation_;
};

// GREATEST / LEAST: NULLs are ignored; all NULL gives NULL.
class MinMaxNode final : public Node {
 public:
  MinMaxNode(DatumKind kind, bool greatest, std::vector<NodePtr> args, const engine::Collation& collation)
      : Node(kind), greatest_(greatest), args_(std::move(args)), collation_(collation) {}
  DatumRef eval(RowRef input) const override {
    engine::RowPacker& out = start();
    DatumRef best;
    for (const NodePtr& arg : args_) {
      const DatumRef d = arg->eval(input);
      if (d.is_null()) continue;
      const int c = best.is_null() ? 0 : compare(d, best, collation_);
      if (best.is_null() || (greatest_ ? c > 0 : c < 0)) {
        out.clear();  // copy: the next argument may reuse the buffer `d` views
        out.push_datum(d);
        best = finish();
      }
    }
    return best.is_null() ? null() : best;
  }

 private:
  bool greatest_;
  std::vector<NodePtr> args_;
  const engine::Collation& collation_;
};

// PostgreSQL's implicit coercion of a branch to the common type (COALESCE,
// CASE, GREATEST/LEAST): numeric widening, bpchar to text.
void require_kind(NodePtr& node, DatumKind kind) { node = coerce(std::move(node), kind); }

// The type of the first argument that is not an untyped literal (or null).
const TypeRef* known_type(const Expr& expr) {
  for (const ExprPtr& arg : expr.args) {
    if (arg && arg->type.oid != 705 && arg->type.oid != 0) return &arg->type;
  }
  return nullptr;
}

NodePtr make_case(const Compiler& c, const Expr& expr) {
  std::vector<NodePtr> args;
  const TypeRef* subject_type = expr.negated ? &expr.args.at(0)->type : nullptr;
  const std::size_t first = expr.negated ? 1 : 0;  // after the subject
  const std::size_t end = expr.args.size() - (expr.test == 1 ? 1 : 0);
  for (std::size_t k = 0; k < expr.args.size(); ++k) {
    const TypeRef* as = &expr.type;  // THEN and ELSE take the result type
    if (k < first) as = nullptr;
    if (k >= first && k < end && (k - first) % 2 == 0) as = subject_type;  // WHEN: the subject's (or bool)
    args.push_back(c.compile_as(*expr.args[k], as));
  }
  const DatumKind kind = kind_of(expr.type);
  NodePtr subject;
  std::size_t i = 0;
  if (expr.negated) subject = std::move(args[i++]);
  NodePtr otherwise;
  if (expr.test == 1) {
    otherwise = std::move(args.back());
    args.pop_back();
    require_kind(otherwise, kind);
  }
  std::vector<NodePtr> whens;
  for (; i + 1 < args.size(); i += 2) {
    if (subject) require_comparable(expr, *subject, *args[i]);
    require_kind(args[i + 1], kind);
    whens.push_back(std::move(args[i]));
    whens.push_back(std::move(args[i + 1]));
  }
  return std::make_unique<CaseNode>(kind, std::move(subject), std::move(whens), std::move(otherwise),
                                    *c.collation);
}

// The halves of BETWEEN reach us unresolved: compare an integer with a
// numeric as numeric, and an integer or numeric with a float8 as float8, as
// PostgreSQL's operator resolution does.
void unify_numeric(NodePtr& a, NodePtr& b) {
  const DatumKind ka = a->kind();
  const DatumKind kb = b->kind();
  const auto widen_to = [&](DatumKind to) {
    if (ka != to) a = coerce(std::move(a), to);
    if (kb != to) b = coerce(std::move(b), to);
  };
  if ((is_int(ka) && kb == DatumKind::Numeric) || (ka == DatumKind::Numeric && is_int(kb))) {
    widen_to(DatumKind::Numeric);
  } else if ((ka == DatumKind::Float8 && (is_int(kb) || kb == DatumKind::Numeric)) ||
             (kb == DatumKind::Float8 && (is_int(ka) || ka == DatumKind::Numeric))) {
    widen_to(DatumKind::Float8);
  }
}

NodePtr make_operator(const Compiler& c, const Expr& expr) {
  CmpOp op{};
  if (expr.args.size() == 2 && parse_cmp(expr.name, op)) {
    std::vector<NodePtr> args = c.compile_args(expr, known_type(expr));
    unify_numeric(args[0], args[1]);
    require_comparable(expr, *args[0], *args[1]);
    return std::make_unique<CompareNode>(op, std::move(args[0]), std::move(args[1]), ordering(c, expr));
  }
  static constexpr std::array<std::string_view, 6> kArith = {"+", "-", "*", "/", "%", "@"};
  if (std::find(kArith.begin(), kArith.end(), expr.name) != kArith.end()) {
    return make_arith(expr, c.compile_args(expr));
  }
  return make_text_function(expr, c.compile_args(expr));
}

NodePtr make_node(const Compiler& c, const Expr& expr) {
  const DatumKind kind = kind_of(expr.type);
  switch (expr.kind) {
    case ExprKind::Column: return make_column(c, expr);
    case ExprKind::Const: return make_const(expr);
    case ExprKind::Operator: return make_operator(c, expr);
    case ExprKind::Function:
      if (expr.name == "abs" || expr.name == "pg_catalog.abs") return make_arith(expr, c.compile_args(expr));
      return make_text_function(expr, c.compile_args(expr));
    case ExprKind::Cast: {
      const Expr& arg = *expr.args.at(0);
      if (arg.kind == ExprKind::Const && arg.type.oid == 705 && expr.type.typmod < 0) {
        Expr typed = arg;  // 'text'::type: the literal is read by the type's input function
        typed.type = expr.type;
        return make_const(typed);
      }
      return make_cast(expr, c.compile(arg));
    }
    case ExprKind::Bool: return std::make_unique<BoolNode>(expr.bool_op, c.compile_args(expr));
    case ExprKind::NullTest: return std::make_unique<TestNode>(0, expr.negated, c.compile(*expr.args.at(0)));
    case ExprKind::BoolTest:
      return std::make_unique<TestNode>(expr.test, expr.negated, c.compile(*expr.args.at(0)));
    case ExprKind::Distinct: {
      std::vector<NodePtr> args = c.compile_args(expr, known_type(expr));
      require_comparable(expr, *args.at(0), *args.at(1));
      return std::make_unique<DistinctNode>(expr.negated, std::move(args[0]), std::move(args[1]),
                                            *c.collation);
    }
    case ExprKind::InList: {
      std::vector<NodePtr> args = c.compile_args(expr, known_type(expr));
      for (std::size_t i = 1; i < args.size(); ++i) require_comparable(expr, *args[0], *args[i]);
      return std::make_unique<InListNode>(expr.negated, std::move(args), *c.collation);
    }
    case ExprKind::Case: return make_case(c, expr);
    case ExprKind::Collate: return c.compile(*expr.args.at(0));  // the collation is in expr.type
    case ExprKind::Coalesce:
    case ExprKind::MinMax: {
      std::vector<NodePtr> args = c.compile_args(expr, &expr.type);
      for (NodePtr& arg : args) require_kind(arg, kind);
      if (expr.kind == ExprKind::Coalesce) return std::make_unique<CoalesceNode>(kind, std::move(args));
      if (!orderable(kind)) throw NotNative{"GREATEST/LEAST on this type"};
      return std::make_unique<MinMaxNode>(kind, expr.test == 1, std::move(args), ordering(c, expr));
    }
    case ExprKind::NullIf: {
      std::vector<NodePtr> args = c.compile_args(expr, known_type(expr));
      require_comparable(expr, *args.at(0), *args.at(1));
      if (args[0]->kind() != kind && args[0]->kind() != DatumKind::Null)
        throw NotNative{"NULLIF of this type"};
      return std::make_unique<NullIfNode>(kind, std::move(args[0]), std::move(args[1]), *c.collation);
    }
    default: throw NotNative{describe(expr)};
  }
}

}  // namespace

NodePtr Compiler::compile(const Expr& expr) const {
  const bool routine = expr.kind == ExprKind::Function || expr.kind == ExprKind::Operator ||
                       expr.kind == ExprKind::Distinct || expr.kind == ExprKind::InList ||
                       expr.kind == ExprKind::NullIf || expr.kind == ExprKind::Cast;
  if (routine && expr.evaluation == Evaluation::Server) throw NotNative{describe(expr)};
  NodePtr node = make_node(*this, expr);
  const bool untyped_bool = expr.type.oid == 0 && node->kind() == DatumKind::Bool;  // BETWEEN's halves
  if (!untyped_bool && node->kind() != kind_of(expr.type) && node->kind() != DatumKind::Null) {
    throw NotNative{describe(expr) + " (result type)"};
  }
  return node;
}

NodePtr Compiler::compile_as(const Expr& expr, const TypeRef* unknown_as) const {
  if (unknown_as == nullptr || expr.kind != ExprKind::Const || expr.type.oid != 705 || expr.is_null) {
    return compile(expr);
  }
  Expr typed = expr;
  typed.type = {.oid = unknown_as->oid, .typmod = -1, .collation = unknown_as->collation};
  return make_const(typed);
}

std::vector<NodePtr> Compiler::compile_args(const Expr& expr, const TypeRef* unknown_as) const {
  std::vector<NodePtr> out;
  out.reserve(expr.args.size());
  for (const ExprPtr& arg : expr.args) {
    if (!arg) throw NotNative{describe(expr)};
    out.push_back(compile_as(*arg, unknown_as));
  }
  return out;
}

namespace {

class Scalar final : public engine::ScalarExpr {
 public:
  explicit Scalar(NodePtr node) : node_(std::move(node)) {}
  void evaluate(RowRef input, engine::RowPacker& out) const override { out.push_datum(node_->eval(input)); }

 private:
  NodePtr node_;
};

class Condition final : public engine::Predicate {
 public:
  explicit Condition(NodePtr node) : node_(std::move(node)) {}
  engine::Truth test(RowRef input) const override {
    const int t = truth(node_->eval(input));
    return t == 2 ? engine::Truth::Unknown : (t == 1 ? engine::Truth::True : engine::Truth::False);
  }

 private:
  NodePtr node_;
};

}  // namespace
}  // namespace eval

NativeScalar compile_scalar(const Expr& expr, std::span<const ColumnBinding> input,
                            const engine::Collation& collation) {
  try {
    const eval::Compiler compiler{input, &collation};
    return {std::make_shared<eval::Scalar>(compiler.compile(expr)), {}};
  } catch (const eval::NotNative& e) {
    return {nullptr, e.what};
  }
}

NativePredicate compile_predicate(const Expr& expr, std::span<const ColumnBinding> input,
                                  const engine::Collation& collation) {
  try {
    const eval::Compiler compiler{input, &collation};
    eval::NodePtr node = compiler.compile(expr);
    if (node->kind() != engine::DatumKind::Bool && node->kind() != engine::DatumKind::Null) {
      return {nullptr, "a condition that is not boolean"};
    }
    return {std::make_shared<eval::Condition>(std::move(node)), {}};
  } catch (const eval::NotNative& e) {
    return {nullptr, e.what};
  }
}

}  // namespace pgstream::sql
