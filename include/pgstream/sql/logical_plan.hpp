// The logical plan: pg_stream's own intermediate form of a bound query,
// between PostgreSQL's parse tree and the engine's dataflow.
//
// Contract: a LogicalPlan is a DAG of immutable-after-planning PlanNodes
// (a CTE referenced twice is one node with two parents). Every node outputs
// a list of columns, each named by a ColumnBinding {table, column} that is
// unique in the plan (DuckDB's scheme): expressions refer to columns by
// binding, never by position, so rewrites (pushdown, pruning) never renumber.
// Every expression node carries its result type (OID, typmod, collation) as
// PostgreSQL resolved it; function and operator nodes carry the function OID,
// its volatility and whether our native evaluator handles it (otherwise the
// server evaluates it in batches). Plans are plain values: not thread-safe to
// mutate, safe to read concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgstream::sql {

using Oid = std::uint32_t;

// Type of a value as PostgreSQL describes it.
struct TypeRef {
  Oid oid = 0;
  std::int32_t typmod = -1;
  Oid collation = 0;  // 0: not collatable
  bool operator==(const TypeRef&) const = default;
};

struct ColumnBinding {
  int table = -1;  // the plan-unique index of the node that produces it
  int column = -1;
  auto operator<=>(const ColumnBinding&) const = default;
};

enum class Volatility { Immutable, Stable, Volatile };
// Who evaluates a function or operator at run time.
enum class Evaluation { Native, Server };

enum class ExprKind {
  Column,     // a column of an input (or of an outer query: correlated)
  Const,      // a literal
  Function,   // f(args)
  Operator,   // l op r, op r
  Aggregate,  // agg(args) [FILTER] [DISTINCT] [ORDER BY]
  Window,     // f(args) OVER (...)
  Grouping,   // GROUPING(keys)
  Bool,       // AND / OR / NOT
  NullTest,   // IS [NOT] NULL
  BoolTest,   // IS [NOT] TRUE/FALSE/UNKNOWN
  Case,       // CASE [arg] WHEN .. THEN .. [ELSE ..] END: args = [arg?] w1 t1 w2 t2 ... [else]
  Coalesce,
  NullIf,
  MinMax,       // GREATEST / LEAST
  Cast,         // CAST(arg AS type)
  Collate,      // arg COLLATE name
  Array,        // ARRAY[...]
  Row,          // ROW(...)
  Subscript,    // arg[i] / arg[i:j]: args = [arg, lower?, upper?]
  FieldSelect,  // (arg).field
  ArrayOp,      // l op ANY/ALL (array)
  Distinct,     // IS [NOT] DISTINCT FROM
  InList,       // l [NOT] IN (a, b, ...): args = [l, a, b, ...]
  Subquery,     // EXISTS / IN / op ANY|ALL / scalar / ARRAY subquery kept as an expression
};

enum class BoolOp { And, Or, Not };
enum class SubqueryKind { Exists, Any, All, Scalar, Array };

struct PlanNode;
struct Expr;
using ExprPtr = std::shared_ptr<Expr>;
using PlanPtr = std::shared_ptr<PlanNode>;

struct SortKey {
  ExprPtr expr;
  bool descending = false;
  bool nulls_first = false;  // PostgreSQL's default: NULLS LAST for ASC, FIRST for DESC
};

struct WindowSpec {
  std::vector<ExprPtr> partition_by;
  std::vector<SortKey> order_by;
  int frame_options = 0;  // PostgreSQL's FRAMEOPTION_* bits
  ExprPtr frame_start;    // offset expressions, may be null
  ExprPtr frame_end;
};

struct Expr {
  ExprKind kind = ExprKind::Const;
  TypeRef type;
  int location = -1;  // byte offset in the user's SQL, -1 if none
  std::vector<ExprPtr> args;
  std::string name;  // column / function / operator / field name, cast type, collation
  // Column
  ColumnBinding binding;
  bool outer = false;  // refers to an enclosing query's column (correlated)
  // Const: the literal as written; type unknown (705) for untyped strings
  std::string literal;
  bool is_null = false;
  // Function, Operator, Aggregate, Window, Distinct, ArrayOp, InList, NullIf
  Oid function_oid = 0;
  Oid operator_oid = 0;
  Volatility volatility = Volatility::Immutable;
  Evaluation evaluation = Evaluation::Native;
  bool strict = false;  // the function returns NULL on any NULL argument
  // Bool: op; NullTest/BoolTest/Distinct/InList: negated; MinMax: greatest
  BoolOp bool_op = BoolOp::And;
  bool negated = false;
  int test = 0;      // BoolTest: 1 TRUE, 2 FALSE, 3 UNKNOWN; MinMax: 1 GREATEST, 2 LEAST
  bool all = false;  // ArrayOp / Subquery ALL
  // Aggregate
  bool agg_star = false;
  bool agg_distinct = false;
  bool within_group = false;
  ExprPtr filter;
  std::vector<SortKey> order_by;
  // Window
  std::shared_ptr<WindowSpec> window;
  // Subquery
  SubqueryKind subquery_kind = SubqueryKind::Exists;
  PlanPtr subplan;
  bool correlated = false;
};

enum class PlanKind {
  Scan,          // a source relation (table, partitioned table, other stream table)
  Values,        // VALUES (...), (...) or a FROM-less SELECT
  FunctionScan,  // a set-returning function in FROM (possibly LATERAL)
  Filter,
  Project,
  Join,
  Aggregate,       // GROUP BY / grouping sets / plain aggregates
  Window,          // window functions sharing one PARTITION BY / ORDER BY
  Distinct,        // DISTINCT, DISTINCT ON
  SetOp,           // UNION / INTERSECT / EXCEPT [ALL]
  TopK,            // ORDER BY ... LIMIT / OFFSET
  RecursiveUnion,  // WITH RECURSIVE: inputs = [non-recursive, recursive term]
  WorkTableScan,   // the recursive CTE's own rows inside its recursive term
};

enum class JoinType { Inner, Left, Right, Full, Semi, Anti };
enum class SetOpKind { Union, Intersect, Except };

struct RelationColumn {
  std::string name;
  std::int16_t attnum = 0;
  TypeRef type;
  bool not_null = false;
};

// What a Scan reads: one source relation as the catalog describes it.
struct SourceRelation {
  Oid oid = 0;
  std::string schema;
  std::string name;
  char relkind = 'r';                                  // 'r' table, 'p' partitioned table
  char replica_identity = 'd';                         // d(efault: pk), n(othing), f(ull), i(ndex)
  bool is_stream_table = false;                        // another stream table (chained in memory)
  std::vector<RelationColumn> columns;                 // every live column, in attnum order
  std::vector<std::int16_t> primary_key;               // attnums
  std::vector<std::vector<std::int16_t>> unique_keys;  // attnums of unique indexes (not partial)
  std::vector<std::int16_t> replica_identity_key;      // attnums of the replica identity index
};

struct OutputColumn {
  ColumnBinding binding;
  std::string name;
  TypeRef type;
};

struct PlanNode {
  PlanKind kind = PlanKind::Values;
  int table_index = -1;  // bindings this node creates use it
  std::vector<PlanPtr> inputs;
  std::vector<OutputColumn> output;
  std::string alias;  // FROM alias / CTE name, for explain
  // Scan: the relation and which of its columns (indexes into relation.columns) are read
  std::shared_ptr<const SourceRelation> relation;
  std::vector<int> scan_columns;
  // Filter: predicate; Join: condition (null = true)
  ExprPtr predicate;
  // Project: one expression per output column; Values: rows x columns;
  // FunctionScan: the function call(s)
  std::vector<ExprPtr> exprs;
  std::vector<std::vector<ExprPtr>> rows;
  bool with_ordinality = false;
  bool lateral = false;  // Join: right input refers to the left's columns; FunctionScan too
  // Join
  JoinType join_type = JoinType::Inner;
  bool null_aware = false;  // anti join of NOT IN (a NULL on the inner side empties it)
  // Aggregate: group keys, then aggregates (Aggregate / Grouping exprs); output is
  // keys then aggregates. grouping_sets: each a list of indexes into group_keys.
  std::vector<ExprPtr> group_keys;
  std::vector<ExprPtr> aggregates;
  std::vector<std::vector<int>> grouping_sets;  // empty: plain GROUP BY
  // Window: window function exprs appended to the input's columns
  std::vector<ExprPtr> window_functions;
  // Distinct: DISTINCT ON keys (empty: whole row) and the order deciding which row wins
  std::vector<ExprPtr> distinct_on;
  std::vector<SortKey> sort_keys;  // Distinct ON order; TopK order
  // SetOp
  SetOpKind set_op = SetOpKind::Union;
  bool all = false;
  // TopK (partition_by: per-group top-k, made by decorrelating a LATERAL subquery)
  std::vector<ExprPtr> partition_by;
  std::optional<std::int64_t> limit;
  std::int64_t offset = 0;
  bool with_ties = false;
  // WorkTableScan: the table_index of the RecursiveUnion whose rows it reads
  int work_table_of = -1;
};

// The columns a plan reads from one source relation (for pgs_dependencies).
struct SourceColumns {
  std::shared_ptr<const SourceRelation> relation;
  std::vector<std::string> columns;  // in attnum order, each once
};

struct LogicalPlan {
  PlanPtr root;                                                // the query's output, in output order
  std::vector<std::string> column_names;                       // as PQdescribePrepared reports them
  std::vector<TypeRef> column_types;                           // collation filled from the plan
  std::vector<std::shared_ptr<const SourceRelation>> sources;  // every distinct relation scanned
  std::vector<SourceColumns> columns_used;  // per source, after pruning (empty without rewrites)
  std::vector<std::string> views;           // views expanded, "schema.name"
  std::string original_query;               // the user's text
  std::string defining_query;  // the user's text with views expanded (pgs_stream_tables.defining_query)
};

// Calls `visit` on `expr` and every expression below it (args, filter,
// order, window spec), not descending into subplans.
template <typename Visit>
void walk_expr(const ExprPtr& expr, Visit&& visit) {
  if (!expr) return;
  visit(expr);
  for (const ExprPtr& arg : expr->args) walk_expr(arg, visit);
  walk_expr(expr->filter, visit);
  for (const SortKey& key : expr->order_by) walk_expr(key.expr, visit);
  if (expr->window) {
    for (const ExprPtr& part : expr->window->partition_by) walk_expr(part, visit);
    for (const SortKey& key : expr->window->order_by) walk_expr(key.expr, visit);
    walk_expr(expr->window->frame_start, visit);
    walk_expr(expr->window->frame_end, visit);
  }
}

// Every expression directly owned by `node` (not by its inputs).
[[nodiscard]] std::vector<ExprPtr> node_exprs(const PlanNode& node);

// Structural equality (same kind, type, names, bindings, args), ignoring locations.
[[nodiscard]] bool same_expr(const Expr& a, const Expr& b);

// The bindings an expression reads (including the free bindings of its subplans).
void collect_bindings(const ExprPtr& expr, std::vector<ColumnBinding>& out);
// Bindings that `node` (or anything below it) reads but nothing below it
// produces: non-empty means the plan is correlated to an enclosing query.
[[nodiscard]] std::vector<ColumnBinding> free_bindings(const PlanNode& node);

[[nodiscard]] const char* to_string(PlanKind kind) noexcept;
[[nodiscard]] const char* to_string(JoinType type) noexcept;

}  // namespace pgstream::sql
