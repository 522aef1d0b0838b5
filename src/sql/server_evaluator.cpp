#include "pgstream/sql/server_evaluator.hpp"

#include <algorithm>

#include "pgstream/common/error.hpp"
#include "pgstream/engine/datum_io.hpp"

namespace pgstream::sql {
namespace {

constexpr Oid kUnknown = 705;

std::string single_value(PgConnection& connection, const std::string& sql,
                         const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  PgResult result(PQexecParams(connection.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK)
    throw result_error(connection.get(), result.get(), sql);
  if (PQntuples(result.get()) != 1 || PQgetisnull(result.get(), 0, 0) != 0) {
    throw Error(ErrorKind::Internal, "catalog object not found: " + sql + " (" + params.front() + ")");
  }
  return PQgetvalue(result.get(), 0, 0);
}

// Deparses a bound expression into SQL over the columns s.c1, s.c2, ...
class Deparser {
 public:
  Deparser(ServerEvaluation& server, std::span<const ColumnBinding> input) : server_(server), input_(input) {}

  std::string expr(const Expr& e) {
    switch (e.kind) {
      case ExprKind::Column: return column(e);
      case ExprKind::Const: return constant(e);
      case ExprKind::Function: {
        // One row in, one row out: a set-returning function would change the row count.
        if (server_.returns_set(e.function_oid) && &e != allowed_set_function_ && !set_functions_allowed_) {
          throw Error(ErrorKind::Unsupported, "the set-returning function " + e.name + "() in an expression",
                      {.sqlstate = "0A000",
                       .detail = "",
                       .hint = "Move it into FROM (LATERAL), or use refresh_mode: FULL."});
        }
        std::string out = server_.function_name(e.function_oid) + "(";
        for (std::size_t i = 0; i < e.args.size(); ++i) out += (i > 0 ? ", " : "") + expr(*e.args[i]);
        return out + ")";
      }
      case ExprKind::Operator: {
        // Row comparisons have no single operator: the server picks the
        // column-wise ones from the (exactly typed) arguments again.
        const std::string op =
            " " + (e.operator_oid == 0 ? e.name : server_.operator_name(e.operator_oid)) + " ";
        if (e.args.size() == 1) return "(" + op + expr(*e.args[0]) + ")";
        return "(" + expr(*e.args[0]) + op + expr(*e.args[1]) + ")";
      }
      case ExprKind::Bool: {
        if (e.bool_op == BoolOp::Not) return "(NOT " + expr(*e.args[0]) + ")";
        return "(" + list(e.args, e.bool_op == BoolOp::And ? " AND " : " OR ") + ")";
      }
      case ExprKind::NullTest: return "(" + expr(*e.args[0]) + (e.negated ? " IS NOT NULL)" : " IS NULL)");
      case ExprKind::BoolTest: {
        const char* value = e.test == 1 ? "TRUE" : e.test == 2 ? "FALSE" : "UNKNOWN";
        return "(" + expr(*e.args[0]) + (e.negated ? " IS NOT " : " IS ") + value + ")";
      }
      case ExprKind::Case: return case_expr(e);
      case ExprKind::Coalesce: return "COALESCE(" + list(e.args) + ")";
      case ExprKind::NullIf: return "NULLIF(" + list(e.args) + ")";
      case ExprKind::MinMax: return std::string(e.test == 1 ? "GREATEST(" : "LEAST(") + list(e.args) + ")";
      case ExprKind::Cast: return "CAST(" + expr(*e.args[0]) + " AS " + server_.type_name(e.type) + ")";
      case ExprKind::Collate: return "(" + expr(*e.args[0]) + " COLLATE " + e.name + ")";
      case ExprKind::Array: return "CAST(ARRAY[" + list(e.args) + "] AS " + server_.type_name(e.type) + ")";
      case ExprKind::Row: return "ROW(" + list(e.args) + ")";
      case ExprKind::Subscript: {
        std::string out = "(" + expr(*e.args[0]) + ")[";
        if (e.all) {
          out += (e.args[1] ? expr(*e.args[1]) : "") + ":" +
                 (e.args.size() > 2 && e.args[2] ? expr(*e.args[2]) : "");
        } else {
          out += expr(*e.args[1]);
        }
        return out + "]";
      }
      case ExprKind::FieldSelect:
        return "(" + expr(*e.args[0]) + ")." + server_.connection().quote_identifier(e.name);
      case ExprKind::ArrayOp:
        return "(" + expr(*e.args[0]) + " " + server_.operator_name(e.operator_oid) +
               (e.all ? " ALL (" : " ANY (") + expr(*e.args[1]) + "))";
      case ExprKind::Distinct:
        return "(" + expr(*e.args[0]) + (e.negated ? " IS NOT DISTINCT FROM " : " IS DISTINCT FROM ") +
               expr(*e.args[1]) + ")";
      case ExprKind::InList: {
        std::vector<ExprPtr> items(e.args.begin() + 1, e.args.end());
        return "(" + expr(*e.args[0]) + (e.negated ? " NOT IN (" : " IN (") + list(items) + "))";
      }
      case ExprKind::Aggregate:
      case ExprKind::Window:
      case ExprKind::Grouping:
      case ExprKind::Subquery: break;
    }
    throw unsupported_expr(e);
  }

  [[nodiscard]] const std::vector<std::uint32_t>& columns() const noexcept { return columns_; }
  // The set-returning call of a FROM item (allowed only at the top).
  std::string table_call(const Expr& e) {
    allowed_set_function_ = &e;
    return expr(e);
  }

 private:
  static Error unsupported_expr(const Expr& e) {
    const std::string what = e.kind == ExprKind::Subquery ? "a subquery"
                             : e.outer                    ? "a correlated column reference"
                             : e.name.empty()             ? "this expression"
                                                          : e.name;
    return Error(ErrorKind::Unsupported,
                 what + " inside an expression evaluated by the server is not supported",
                 {.sqlstate = "0A000", .detail = "", .hint = "Use refresh_mode: FULL."});
  }

  std::string list(const std::vector<ExprPtr>& args, const char* separator = ", ") {
    std::string out;
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (i > 0) out += separator;
      out += expr(*args[i]);
    }
    return out;
  }

  std::string column(const Expr& e) {
    if (e.outer) throw unsupported_expr(e);
    auto at = std::find(input_.begin(), input_.end(), e.binding);
    if (at == input_.end())
      throw Error(ErrorKind::Internal, "server evaluation: a column is missing from its input");
    const auto position = static_cast<std::uint32_t>(at - input_.begin());
    auto known = std::find(columns_.begin(), columns_.end(), position);
    const std::size_t index = static_cast<std::size_t>(known - columns_.begin());
    if (known == columns_.end()) columns_.push_back(position);
    return "CAST(s.c" + std::to_string(index + 1) + " AS " + server_.type_name(e.type) + ")";
  }

  std::string constant(const Expr& e) {
    if (e.is_null) return e.type.oid == kUnknown ? "NULL" : "CAST(NULL AS " + server_.type_name(e.type) + ")";
    if (e.type.oid == kUnknown) return e.literal;
    return "CAST(" + e.literal + " AS " + server_.type_name(e.type) + ")";
  }

  std::string case_expr(const Expr& e) {
    std::string out = "CASE";
    std::size_t i = 0;
    if (e.negated) out += " " + expr(*e.args[i++]);
    const std::size_t end = e.args.size() - (e.test == 1 ? 1 : 0);
    for (; i + 1 < end; i += 2) {
      out += " WHEN " + expr(*e.args[i]) + " THEN " + expr(*e.args[i + 1]);
    }
    if (e.test == 1) out += " ELSE " + expr(*e.args.back());
    return out + " END";
  }

  ServerEvaluation& server_;
  std::span<const ColumnBinding> input_;
  std::vector<std::uint32_t> columns_;  // input positions sent, as s.c1, s.c2, ...
  const Expr* allowed_set_function_ = nullptr;

 public:
  bool set_functions_allowed_ = false;  // a SELECT list with set-returning functions
};

// One array literal element: NULL, or a double-quoted, backslash-escaped string.
void append_element(std::string& out, engine::DatumRef d, std::string& scratch) {
  if (d.is_null()) {
    out += "NULL";
    return;
  }
  scratch.clear();
  engine::format_datum(d, scratch);
  out += '"';
  for (char ch : scratch) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  out += '"';
}

// Sends the columns of `inputs` as text arrays and runs `sql` over them.
PgResult send(ServerEvaluation& server, const std::string& sql, const std::vector<std::uint32_t>& columns,
              std::span<const engine::RowRef> inputs) {
  // One text[] parameter per column sent (a column of NULLs when none is).
  const std::size_t arrays = std::max<std::size_t>(columns.size(), 1);
  std::vector<std::string> params(arrays, "{");
  std::string scratch;
  for (std::size_t r = 0; r < inputs.size(); ++r) {
    for (std::size_t c = 0; c < arrays; ++c) {
      if (r > 0) params[c] += ',';
      if (columns.empty()) {
        params[c] += "NULL";
      } else {
        append_element(params[c], inputs[r].at(columns[c]), scratch);
      }
    }
  }
  std::vector<const char*> values;
  for (std::string& p : params) {
    p += '}';
    values.push_back(p.c_str());
  }
  const auto lock = server.lock();
  PgConnection& connection = server.connection();
  server.count_round_trip();
  PgResult result(PQexecParams(connection.get(), sql.c_str(), static_cast<int>(values.size()), nullptr,
                               values.data(), nullptr, nullptr, 0));
  if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    throw result_error(connection.get(), result.get(), "evaluating expressions by the server");
  }
  return result;
}

// The FROM clause over the columns sent: unnest($1::text[], ...) WITH ORDINALITY AS s(c1, ..., ord).
std::string input_rows(std::size_t columns) {
  const std::size_t arrays = std::max<std::size_t>(columns, 1);
  std::string from = "unnest(";
  std::string names;
  for (std::size_t i = 0; i < arrays; ++i) {
    from += (i > 0 ? ", $" : "$") + std::to_string(i + 1) + "::text[]";
    names += "c" + std::to_string(i + 1) + ", ";
  }
  return from + ") WITH ORDINALITY AS s(" + names + "ord)";
}

// Packs columns [first, first + types.size()) of result row r.
void pack_result(const PGresult* result, int r, int first, const std::vector<Oid>& types,
                 engine::RowPacker& packer) {
  for (std::size_t c = 0; c < types.size(); ++c) {
    const int field = first + static_cast<int>(c);
    if (PQgetisnull(result, r, field) != 0) {
      packer.push_null();
    } else {
      engine::parse_datum(types[c], PQgetvalue(result, r, field), packer);
    }
  }
}

class ServerTableBatch final : public engine::BatchTableFunction {
 public:
  ServerTableBatch(ServerEvaluation& server, std::string sql, std::vector<std::uint32_t> columns,
                   std::vector<Oid> types)
      : server_(server), sql_(std::move(sql)), columns_(std::move(columns)), types_(std::move(types)) {}

  [[nodiscard]] std::vector<std::vector<engine::Row>> evaluate(
      std::span<const engine::RowRef> inputs) const override {
    PgResult result = send(server_, sql_, columns_, inputs);
    std::vector<std::vector<engine::Row>> out(inputs.size());
    engine::RowPacker packer;
    for (int r = 0; r < PQntuples(result.get()); ++r) {
      const long ord = std::strtol(PQgetvalue(result.get(), r, 0), nullptr, 10);
      if (ord < 1 || static_cast<std::size_t>(ord) > inputs.size()) {
        throw Error(ErrorKind::Internal, "server evaluation returned a row for no input");
      }
      packer.clear();
      pack_result(result.get(), r, 1, types_, packer);
      out[static_cast<std::size_t>(ord - 1)].emplace_back(packer.row());
    }
    return out;
  }

 private:
  ServerEvaluation& server_;
  std::string sql_;
  std::vector<std::uint32_t> columns_;
  std::vector<Oid> types_;
};

class ServerBatch final : public engine::BatchFunction {
 public:
  ServerBatch(ServerEvaluation& server, std::string sql, std::vector<std::uint32_t> columns,
              std::vector<Oid> types)
      : server_(server), sql_(std::move(sql)), columns_(std::move(columns)), types_(std::move(types)) {}

  [[nodiscard]] std::vector<engine::Row> evaluate(std::span<const engine::RowRef> inputs) const override {
    PgResult result = send(server_, sql_, columns_, inputs);
    if (static_cast<std::size_t>(PQntuples(result.get())) != inputs.size()) {
      throw Error(ErrorKind::Internal, "server evaluation returned the wrong number of rows");
    }
    std::vector<engine::Row> out;
    out.reserve(inputs.size());
    engine::RowPacker packer;
    for (int r = 0; r < PQntuples(result.get()); ++r) {
      packer.clear();
      pack_result(result.get(), r, 0, types_, packer);
      out.emplace_back(packer.row());
    }
    return out;
  }

 private:
  ServerEvaluation& server_;
  std::string sql_;
  std::vector<std::uint32_t> columns_;
  std::vector<Oid> types_;
};

}  // namespace

const std::string& ServerEvaluation::type_name(const TypeRef& type) {
  auto key = std::make_pair(type.oid, type.typmod);
  auto it = types_.find(key);
  if (it != types_.end()) return it->second;
  const auto lock = this->lock();
  std::string name = single_value(connection_, "SELECT format_type($1::oid, $2::int)",
                                  {std::to_string(type.oid), std::to_string(type.typmod)});
  return types_.emplace(key, std::move(name)).first->second;
}

const std::string& ServerEvaluation::function_name(Oid function) {
  auto it = functions_.find(function);
  if (it != functions_.end()) return it->second;
  const auto lock = this->lock();
  std::string name =
      single_value(connection_,
                   "SELECT CASE WHEN p.proretset THEN '*' ELSE '' END || quote_ident(n.nspname) || '.' "
                   "|| quote_ident(p.proname) FROM pg_proc p "
                   "JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid = $1::oid",
                   {std::to_string(function)});
  if (name.front() == '*') {
    name.erase(0, 1);
    set_returning_.insert(function);
  }
  return functions_.emplace(function, std::move(name)).first->second;
}

bool ServerEvaluation::returns_set(Oid function) {
  (void)function_name(function);
  return set_returning_.count(function) != 0;
}

const std::string& ServerEvaluation::operator_name(Oid op) {
  auto it = operators_.find(op);
  if (it != operators_.end()) return it->second;
  const auto lock = this->lock();
  std::string name = single_value(connection_,
                                  "SELECT 'OPERATOR(' || quote_ident(n.nspname) || '.' || o.oprname || ')' "
                                  "FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace "
                                  "WHERE o.oid = $1::oid",
                                  {std::to_string(op)});
  return operators_.emplace(op, std::move(name)).first->second;
}

std::shared_ptr<const engine::BatchFunction> server_batch(ServerEvaluation& server,
                                                          const std::vector<ExprPtr>& exprs,
                                                          std::span<const ColumnBinding> input) {
  Deparser deparser(server, input);
  std::string select;
  std::vector<Oid> types;
  for (const ExprPtr& e : exprs) {
    if (!select.empty()) select += ", ";
    select += deparser.expr(*e);
    types.push_back(e->type.oid);
  }
  std::string sql = "SELECT " + select + " FROM " + input_rows(deparser.columns().size()) + " ORDER BY ord";
  return std::make_shared<ServerBatch>(server, std::move(sql), deparser.columns(), std::move(types));
}

std::shared_ptr<const engine::BatchTableFunction> server_table_batch(ServerEvaluation& server,
                                                                     const Expr& call, bool with_ordinality,
                                                                     std::vector<Oid> types,
                                                                     std::span<const ColumnBinding> input) {
  Deparser deparser(server, input);
  const std::string function = deparser.table_call(call);
  std::string sql = "SELECT s.ord, f.* FROM " + input_rows(deparser.columns().size()) + ", LATERAL " +
                    function + (with_ordinality ? " WITH ORDINALITY" : "") + " AS f ORDER BY s.ord";
  return std::make_shared<ServerTableBatch>(server, std::move(sql), deparser.columns(), std::move(types));
}

std::shared_ptr<const engine::BatchTableFunction> server_project_set(ServerEvaluation& server,
                                                                     const std::vector<ExprPtr>& exprs,
                                                                     std::span<const ColumnBinding> input) {
  Deparser deparser(server, input);
  deparser.set_functions_allowed_ = true;
  std::string select;
  std::vector<Oid> types;
  for (const ExprPtr& e : exprs) {
    select += ", " + deparser.expr(*e);
    types.push_back(e->type.oid);
  }
  std::string sql =
      "SELECT s.ord" + select + " FROM " + input_rows(deparser.columns().size()) + " ORDER BY s.ord";
  return std::make_shared<ServerTableBatch>(server, std::move(sql), deparser.columns(), std::move(types));
}

}  // namespace pgstream::sql
