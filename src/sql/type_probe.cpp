// Typing expressions through the server: each node becomes a probe view
// whose children are typed placeholder columns; the view's column gives the
// node's type, typmod and collation, its stored rule tree the functions and
// operators PostgreSQL chose (checked for volatility, then made explicit).
#include <algorithm>
#include <cctype>
#include <functional>
#include <set>

#include "binder.hpp"
#include "pgstream/engine/datum.hpp"

namespace pgstream::sql {

namespace {

// Functions and operators our native evaluator implements (pg_catalog only).
const std::set<std::string>& native_routines() {
  static const std::set<std::string> names = {"+",
                                              "-",
                                              "*",
                                              "/",
                                              "%",
                                              "=",
                                              "<>",
                                              "<",
                                              "<=",
                                              ">",
                                              ">=",
                                              "||",
                                              "~~",
                                              "!~~",
                                              "~~*",
                                              "!~~*",
                                              "~",
                                              "!~",
                                              "~*",
                                              "!~*",
                                              "->",
                                              "->>",
                                              "@",
                                              "abs",
                                              "lower",
                                              "upper",
                                              "length",
                                              "char_length",
                                              "octet_length",
                                              "substr",
                                              "substring",
                                              "concat",
                                              "concat_ws",
                                              "btrim",
                                              "ltrim",
                                              "rtrim",
                                              "replace",
                                              "split_part",
                                              "position",
                                              "strpos",
                                              "left",
                                              "right",
                                              "lpad",
                                              "rpad",
                                              "date_trunc",
                                              "date_part",
                                              "extract",
                                              "age",
                                              "to_char",
                                              "round",
                                              "trunc",
                                              "floor",
                                              "ceil",
                                              "ceiling",
                                              "mod",
                                              "coalesce",
                                              "greatest",
                                              "least",
                                              "nullif",
                                              "similar_to_escape",
                                              "count",
                                              "sum",
                                              "avg",
                                              "min",
                                              "max",
                                              "bool_and",
                                              "bool_or",
                                              "every",
                                              "string_agg",
                                              "array_agg",
                                              "stddev",
                                              "stddev_samp",
                                              "stddev_pop",
                                              "variance",
                                              "var_samp",
                                              "var_pop",
                                              "bit_and",
                                              "bit_or",
                                              "bit_xor",
                                              "json_agg",
                                              "jsonb_agg",
                                              "json_object_agg",
                                              "jsonb_object_agg",
                                              "mode",
                                              "percentile_cont",
                                              "percentile_disc",
                                              "corr",
                                              "covar_pop",
                                              "covar_samp",
                                              "regr_slope",
                                              "regr_intercept",
                                              "regr_r2",
                                              "regr_count",
                                              "regr_avgx",
                                              "regr_avgy",
                                              "regr_sxx",
                                              "regr_sxy",
                                              "regr_syy",
                                              "nth_value",
                                              "row_number",
                                              "rank",
                                              "dense_rank",
                                              "lag",
                                              "lead",
                                              "first_value",
                                              "last_value",
                                              "ntile",
                                              "percent_rank",
                                              "cume_dist",
                                              "unnest",
                                              "generate_series",
                                              "jsonb_array_elements",
                                              "jsonb_each",
                                              "jsonb_each_text"};
  return names;
}

// Types the engine's datums represent natively: bool, int2/4/8, float4/8,
// numeric, text, varchar, name, bpchar, bytea, date, time, timestamp[tz],
// interval, uuid, json, jsonb (and arrays of them).
const std::set<Oid>& native_types() {
  static const std::set<Oid> oids = {16,   21, 23,   20,   700,  701,  1700, 25,   1043, 19,
                                     1042, 17, 1082, 1083, 1114, 1184, 1186, 2950, 114,  3802};
  return oids;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
  return text;
}

ExprPtr make_expr(ExprKind kind, int location) {
  auto expr = std::make_shared<Expr>();
  expr->kind = kind;
  expr->location = location;
  return expr;
}

const char* volatility_word(Volatility volatility) {
  return volatility == Volatility::Stable ? "STABLE" : "VOLATILE";
}

}  // namespace

std::string Binder::probe_sql(const Expr& top, ProbeShape shape) {
  std::vector<const Expr*> placeholders;
  std::function<std::string(const Expr&)> body_of;
  std::function<std::string(const ExprPtr&)> child = [&](const ExprPtr& c) -> std::string {
    if (!c) return "NULL";
    if (c->kind == ExprKind::Const) return c->literal;
    if (c->kind == ExprKind::Array && c->args.empty()) return "ARRAY[]";  // typed by its context
    if (c->kind == ExprKind::Row) {
      std::string row = "ROW(";
      for (std::size_t i = 0; i < c->args.size(); ++i) row += (i > 0 ? ", " : "") + child(c->args[i]);
      return row + ")";
    }
    // An anonymous record cannot be a placeholder column: print it in full.
    if (c->type.oid == engine::type_oid::kRecord && c->kind != ExprKind::Column) return body_of(*c);
    placeholders.push_back(c.get());
    return "c" + std::to_string(placeholders.size());
  };
  body_of = [&](const Expr& expr) -> std::string {
    auto list = [&](const std::vector<ExprPtr>& args, std::size_t from = 0) {
      std::string out;
      for (std::size_t i = from; i < args.size(); ++i) out += (i > from ? ", " : "") + child(args[i]);
      return out;
    };
    auto sort = [&](const std::vector<SortKey>& keys) {
      std::string out;
      for (std::size_t i = 0; i < keys.size(); ++i) {
        out += (i > 0 ? ", " : "") + child(keys[i].expr) + (keys[i].descending ? " DESC" : "");
      }
      return out;
    };
    // An ordered-set aggregate's direct arguments must not read the probe's
    // placeholder columns (they would have to be grouped): typed NULLs instead.
    auto direct = [&](const std::vector<ExprPtr>& args) {
      std::string out;
      for (std::size_t i = 0; i < args.size(); ++i) {
        out += i > 0 ? ", " : "";
        out += args[i]->kind == ExprKind::Const ? args[i]->literal
                                                : "CAST(NULL AS " + catalog_.type_sql(args[i]->type) + ")";
      }
      return out;
    };
    auto call = [&]() {
      std::string out = expr.literal + "(";
      if (expr.agg_star) out += "*";
      if (expr.agg_distinct) out += "DISTINCT ";
      out += expr.within_group ? direct(expr.args) : list(expr.args);
      if (!expr.order_by.empty() && !expr.within_group) out += " ORDER BY " + sort(expr.order_by);
      out += ")";
      if (expr.within_group) out += " WITHIN GROUP (ORDER BY " + sort(expr.order_by) + ")";
      if (expr.filter) out += " FILTER (WHERE " + child(expr.filter) + ")";
      return out;
    };
    auto op = [&](const std::string& name) {
      const auto dot = name.rfind('.');
      if (dot == std::string::npos) return " " + name + " ";
      return " OPERATOR(" + catalog_.connection().quote_identifier(name.substr(0, dot)) + "." +
             name.substr(dot + 1) + ") ";
    };
    std::string body;
    switch (expr.kind) {
      case ExprKind::Function:
      case ExprKind::Aggregate: body = call(); break;
      case ExprKind::Window: {
        body = call() + " OVER (";
        if (!expr.window->partition_by.empty()) body += "PARTITION BY " + list(expr.window->partition_by);
        if (!expr.window->order_by.empty()) body += " ORDER BY " + sort(expr.window->order_by);
        body += ")";
        break;
      }
      case ExprKind::Operator:
        body = expr.args.size() == 1 ? "(" + op(expr.name) + child(expr.args[0]) + ")"
                                     : "(" + child(expr.args[0]) + op(expr.name) + child(expr.args[1]) + ")";
        break;
      case ExprKind::ArrayOp:
        body = "(" + child(expr.args[0]) + op(expr.name) + (expr.all ? "ALL (" : "ANY (") +
               child(expr.args[1]) + "))";
        break;
      case ExprKind::Distinct:
        body = "(" + child(expr.args[0]) + (expr.negated ? " IS NOT DISTINCT FROM " : " IS DISTINCT FROM ") +
               child(expr.args[1]) + ")";
        break;
      case ExprKind::NullIf: body = "NULLIF(" + list(expr.args) + ")"; break;
      case ExprKind::InList:
        body = "(" + child(expr.args[0]) + (expr.negated ? " NOT IN (" : " IN (") + list(expr.args, 1) + "))";
        break;
      case ExprKind::Coalesce: body = "COALESCE(" + list(expr.args) + ")"; break;
      case ExprKind::MinMax:
        body = std::string(expr.test == 1 ? "GREATEST(" : "LEAST(") + list(expr.args) + ")";
        break;
      case ExprKind::Cast: body = "CAST(" + child(expr.args[0]) + " AS " + expr.name + ")"; break;
      case ExprKind::Collate: body = "(" + child(expr.args[0]) + " COLLATE " + expr.name + ")"; break;
      case ExprKind::Array: body = "ARRAY[" + list(expr.args) + "]"; break;
      case ExprKind::Subscript:
        body = "(" + child(expr.args[0]) + ")[" + (expr.args[1] ? child(expr.args[1]) : "") +
               (expr.all ? ":" + (expr.args[2] ? child(expr.args[2]) : std::string()) : std::string()) + "]";
        break;
      case ExprKind::FieldSelect:
        body = "(" + child(expr.args[0]) + ")." + catalog_.connection().quote_identifier(expr.name);
        break;
      case ExprKind::Case: {
        std::size_t i = 0;
        body = "CASE";
        if (expr.negated) body += " " + child(expr.args[i++]);
        const std::size_t end = expr.args.size() - (expr.test == 1 ? 1 : 0);
        for (; i + 1 < end + 1 && i < end; i += 2)
          body += " WHEN " + child(expr.args[i]) + " THEN " + child(expr.args[i + 1]);
        if (expr.test == 1) body += " ELSE " + child(expr.args.back());
        body += " END";
        break;
      }
      case ExprKind::Subquery: {
        const std::string sub = "(SELECT " + [&] {
          std::string cols;
          for (std::size_t i = 0; i < expr.subplan->output.size(); ++i) {
            cols +=
                (i > 0 ? ", " : "") + std::string("NULL::") + catalog_.type_sql(expr.subplan->output[i].type);
          }
          return cols;
        }() + ")";
        if (expr.subquery_kind == SubqueryKind::Array)
          body = "ARRAY" + sub;
        else if (expr.subquery_kind == SubqueryKind::Scalar)
          body = sub;
        else
          body = "(" + child(expr.args[0]) + op(expr.name) + (expr.all ? "ALL " : "ANY ") + sub + ")";
        break;
      }
      default: throw Error(ErrorKind::Internal, "no probe for this expression kind");
    }
    return body;
  };
  std::string body = body_of(top);
  std::string from;
  for (std::size_t i = 0; i < placeholders.size(); ++i) {
    const TypeRef& type = placeholders[i]->type;
    from += (i > 0 ? ", " : "") + std::string("NULL::") + catalog_.type_sql(type);
    if (type.collation != 0 && type.collation != catalog_.type_collation(type.oid)) {
      from += " COLLATE " + catalog_.collation_sql(type.collation);
    }
    from += " AS c" + std::to_string(i + 1);
  }
  if (shape == ProbeShape::FromItem || shape == ProbeShape::FromItemWithOrdinality) {
    body += shape == ProbeShape::FromItemWithOrdinality ? " WITH ORDINALITY AS pgs_f" : " AS pgs_f";
    if (placeholders.empty()) return "SELECT pgs_f.* FROM " + body;
    return "SELECT pgs_f.* FROM (SELECT " + from + ") AS s, LATERAL " + body;
  }
  if (shape == ProbeShape::NullTest) body = "(" + body + ") IS NULL";
  std::string sql = "SELECT " + body + " AS v";
  if (!placeholders.empty()) sql += " FROM (SELECT " + from + ") AS s";
  return sql;
}

void Binder::resolve_routine(Expr& expr, const ProbeResult& probe) {
  for (const ResolvedRoutine& routine : probe.routines) {
    if (routine.volatility != Volatility::Immutable) {
      const std::string what = std::string(routine.is_operator ? "the operator " : "the function ") +
                               routine.name + (routine.is_operator ? "" : "()");
      throw unsupported_at(what + ", which is " + volatility_word(routine.volatility) + ",", expr.location,
                           "Only IMMUTABLE functions and operators can be maintained incrementally; "
                           "use refresh_mode: FULL for this query.");
    }
  }
  const bool wants_operator = expr.kind == ExprKind::Operator || expr.kind == ExprKind::ArrayOp ||
                              expr.kind == ExprKind::Distinct || expr.kind == ExprKind::InList ||
                              expr.kind == ExprKind::NullIf || expr.kind == ExprKind::Subquery;
  const bool wants_function =
      expr.kind == ExprKind::Function || expr.kind == ExprKind::Aggregate || expr.kind == ExprKind::Window;
  if (!wants_operator && !wants_function) return;
  const ResolvedRoutine* chosen = nullptr;
  for (const ResolvedRoutine& routine : probe.routines) {
    if (wants_operator && routine.is_operator) chosen = &routine;
    if (wants_function && !routine.is_operator && lower(routine.name) == lower(expr.name)) chosen = &routine;
    if (chosen != nullptr) break;
  }
  if (chosen == nullptr && wants_function) {
    for (const ResolvedRoutine& routine : probe.routines) {
      if (!routine.is_operator) chosen = &routine;
    }
  }
  if (chosen == nullptr) return;
  if (expr.kind == ExprKind::Function && chosen->is_aggregate) expr.kind = ExprKind::Aggregate;
  expr.function_oid = chosen->function_oid;
  if (chosen->is_operator) expr.operator_oid = chosen->oid;
  expr.volatility = chosen->volatility;
  expr.strict = chosen->strict;
  expr.evaluation = chosen->in_pg_catalog && native_routines().count(chosen->name) != 0 ? Evaluation::Native
                                                                                        : Evaluation::Server;
  coerce_arguments(expr, chosen->arg_types);
  if (expr.evaluation == Evaluation::Native && !natively_typed(expr)) expr.evaluation = Evaluation::Server;
}

// True when the node's result and arguments are of types the engine packs
// natively (so a native implementation can see the values as they are).
bool Binder::natively_typed(const Expr& expr) {
  auto native = [&](Oid type) {
    if (native_types().count(type) != 0) return true;
    const Oid element = catalog_.element_type(type);
    return element != 0 && native_types().count(element) != 0;
  };
  if (!native(expr.type.oid)) return false;
  return std::all_of(expr.args.begin(), expr.args.end(), [&](const ExprPtr& arg) {
    return !arg || native(arg->type.oid) || arg->type.oid == engine::type_oid::kUnknown;
  });
}

// Makes the server's implicit coercions explicit: an argument whose type
// differs from the routine's declared (non-pseudo) parameter type gets a Cast,
// and an untyped literal takes the parameter's type, as PostgreSQL does.
void Binder::coerce_arguments(Expr& expr, const std::vector<Oid>& declared) {
  const bool positional = expr.kind == ExprKind::Function || expr.kind == ExprKind::Aggregate ||
                          expr.kind == ExprKind::Window || expr.kind == ExprKind::Operator ||
                          expr.kind == ExprKind::Distinct || expr.kind == ExprKind::NullIf;
  if (!positional) return;
  for (std::size_t i = 0; i < expr.args.size() && i < declared.size(); ++i) {
    ExprPtr& arg = expr.args[i];
    if (!arg || arg->type.oid == declared[i] || arg->type.oid == engine::type_oid::kRecord)
      continue;  // ROW(...) op ROW(...)
    if (catalog_.is_pseudo_type(declared[i])) continue;
    if (arg->kind == ExprKind::Const && arg->type.oid == engine::type_oid::kUnknown) {
      auto typed = std::make_shared<Expr>(*arg);
      typed->type = {.oid = declared[i], .typmod = -1, .collation = catalog_.type_collation(declared[i])};
      arg = typed;
      continue;
    }
    auto cast = make_expr(ExprKind::Cast, arg->location);
    cast->name = catalog_.type_sql({.oid = declared[i], .typmod = -1, .collation = 0});
    cast->args.push_back(arg);
    type_expr(cast);
    arg = cast;
  }
}

void Binder::check_cast_volatility(Expr& expr) {
  const TypeRef& from = expr.args[0]->type;
  const Expr& arg = *expr.args[0];
  if (arg.kind == ExprKind::Const || (arg.kind == ExprKind::Array && arg.args.empty()) ||
      from.oid == expr.type.oid)
    return;
  PgResult result(nullptr);
  const std::string sql =
      "SELECT coalesce((SELECT castmethod = 'b' FROM pg_catalog.pg_cast WHERE castsource = $1::oid AND "
      "casttarget = $2::oid), false), (SELECT max(p.provolatile)::text FROM pg_catalog.pg_type s, "
      "pg_catalog.pg_type t, pg_catalog.pg_proc p WHERE s.oid = $1::oid AND t.oid = $2::oid AND "
      "p.oid IN (s.typoutput, t.typinput))";
  const std::string a = std::to_string(from.oid);
  const std::string b = std::to_string(expr.type.oid);
  const char* values[] = {a.c_str(), b.c_str()};
  result.reset(
      PQexecParams(catalog_.connection().get(), sql.c_str(), 2, nullptr, values, nullptr, nullptr, 0));
  if (!result_ok(result.get()))
    throw result_error(catalog_.connection().get(), result.get(), "checking a cast");
  const bool binary = std::string(PQgetvalue(result.get(), 0, 0)) == "t";
  const std::string volatility = PQgetvalue(result.get(), 0, 1);
  if (binary) return;
  if (volatility != "i") {
    throw unsupported_at(
        "the cast from " + catalog_.type_sql(from) + " to " + catalog_.type_sql(expr.type) +
            ", which goes through text and is " + (volatility == "s" ? "STABLE" : "VOLATILE") + ",",
        expr.location,
        "Its result depends on settings such as TimeZone or DateStyle; use refresh_mode: FULL.");
  }
  expr.evaluation = Evaluation::Server;
}

void Binder::type_expr(const ExprPtr& expr) {
  if (!expr || expr->type.oid != 0) return;
  if (expr->kind == ExprKind::Array && expr->args.empty()) {
    expr->type = {.oid = engine::type_oid::kUnknown};  // ARRAY[] takes its type from a cast around it
    return;
  }
  switch (expr->kind) {
    case ExprKind::Bool:
    case ExprKind::NullTest:
    case ExprKind::BoolTest: expr->type = {.oid = engine::type_oid::kBool}; return;
    case ExprKind::Grouping: expr->type = {.oid = engine::type_oid::kInt4}; return;
    case ExprKind::Row: expr->type = {.oid = engine::type_oid::kRecord}; return;
    case ExprKind::Subquery:
      if (expr->subquery_kind == SubqueryKind::Exists) {
        expr->type = {.oid = engine::type_oid::kBool};
        return;
      }
      if (expr->subquery_kind == SubqueryKind::Scalar) {
        if (expr->subplan->output.size() != 1)
          throw unsupported_at("a subquery returning several columns", expr->location);
        expr->type = expr->subplan->output[0].type;
        return;
      }
      break;
    default: break;
  }
  ProbeResult probe;
  try {
    try {
      probe = catalog_.probe(probe_sql(*expr));
    } catch (const Error& error) {
      if (error.sqlstate() != "42P16") throw;  // "column has pseudo-type record": an anonymous record
      probe = catalog_.probe(probe_sql(*expr, ProbeShape::NullTest));
      probe.columns.at(0).type = {.oid = engine::type_oid::kRecord, .typmod = -1, .collation = 0};
    }
  } catch (const Error& error) {
    if (error.kind() != ErrorKind::Database) throw;
    // The server accepted the whole query but not this expression out of its
    // context: a form the compiler does not model. Say so, where it is.
    throw unsupported_at(
        "this expression", expr->location,
        "pg_stream could not resolve it on its own (" + error.message() + "); use refresh_mode: FULL.");
  }
  if (probe.columns.empty()) throw Error(ErrorKind::Internal, "a type probe returned no column");
  expr->type = probe.columns[0].type;
  resolve_routine(*expr, probe);
  if (expr->kind == ExprKind::Cast && probe.routines.empty()) check_cast_volatility(*expr);
  if (expr->kind == ExprKind::Cast) {
    expr->name = catalog_.type_sql(expr->type);
    const ExprPtr& arg = expr->args[0];
    if (arg->kind == ExprKind::Array && arg->args.empty()) arg->type = expr->type;
  }
}

}  // namespace pgstream::sql
