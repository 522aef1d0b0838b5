// Server-side batch evaluation: expressions the native evaluator does not
// implement (user-defined IMMUTABLE functions and operators, built-ins we
// have not reimplemented) are evaluated by PostgreSQL itself, one round trip
// per epoch and expression group, never one per row.
//
// Contract:
// - server_batch() deparses the expressions into one SELECT over the
//   columns they read, passed as text arrays and cast to their types:
//     SELECT <e1>, <e2> FROM unnest($1::text[], ...) WITH ORDINALITY AS s(c1, ..., ord) ORDER BY ord
//   Functions and operators are named by their OIDs' qualified names
//   (OPERATOR(schema.op)), every constant and column carries its exact type,
//   so the server resolves nothing differently than when it typed the query.
// - The returned BatchFunction computes one row of datums (one per
//   expression, of kind_for_type_oid(expr type)) per input row; server
//   errors are thrown as Error{Database} with their SQLSTATE (the epoch fails
//   as the query would have failed).
// - Aggregates, window functions and subqueries are not deparsed:
//   server_batch() throws Error{Unsupported} naming them.
// - The connection is used from the dataflow's thread only, outside any
//   transaction the caller holds open for other purposes; `round_trips`
//   counts the queries sent (tests check batching with it).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "pgstream/common/pg.hpp"
#include "pgstream/engine/operators/batch_map.hpp"
#include "pgstream/sql/logical_plan.hpp"

namespace pgstream::sql {

class ServerEvaluation {
 public:
  // `mutex`, when given, guards `connection`, which other threads (other
  // stream tables' evaluations) may share.
  explicit ServerEvaluation(PgConnection& connection, std::mutex* mutex = nullptr)
      : connection_(connection), mutex_(mutex) {}

  [[nodiscard]] PgConnection& connection() noexcept { return connection_; }
  // Held around every round trip on connection().
  [[nodiscard]] std::unique_lock<std::mutex> lock() const {
    return mutex_ != nullptr ? std::unique_lock<std::mutex>(*mutex_) : std::unique_lock<std::mutex>();
  }
  [[nodiscard]] std::uint64_t round_trips() const noexcept { return round_trips_; }
  void count_round_trip() noexcept { ++round_trips_; }

  // Cached catalog names (one query per object at lowering time).
  const std::string& type_name(const TypeRef& type);
  const std::string& function_name(Oid function);
  const std::string& operator_name(Oid op);  // "OPERATOR(schema.op)"
  bool returns_set(Oid function);

 private:
  PgConnection& connection_;
  std::mutex* mutex_;
  std::uint64_t round_trips_ = 0;
  std::map<std::pair<Oid, std::int32_t>, std::string> types_;
  std::map<Oid, std::string> functions_;
  std::set<Oid> set_returning_;
  std::map<Oid, std::string> operators_;
};

// `input` are the bindings of the input row's columns, in order.
[[nodiscard]] std::shared_ptr<const engine::BatchFunction> server_batch(ServerEvaluation& server,
                                                                        const std::vector<ExprPtr>& exprs,
                                                                        std::span<const ColumnBinding> input);

// A set-returning function of a FROM item (`call`, whose arguments read
// `input`), with its output columns' types (plus the ordinality's int8).
[[nodiscard]] std::shared_ptr<const engine::BatchTableFunction> server_table_batch(
    ServerEvaluation& server, const Expr& call, bool with_ordinality, std::vector<Oid> types,
    std::span<const ColumnBinding> input);

// A SELECT list with set-returning functions anywhere in it (PostgreSQL's
// ProjectSet: several of them are zipped, as the server does): per input
// row, the rows of the whole list's values.
[[nodiscard]] std::shared_ptr<const engine::BatchTableFunction> server_project_set(
    ServerEvaluation& server, const std::vector<ExprPtr>& exprs, std::span<const ColumnBinding> input);

}  // namespace pgstream::sql
