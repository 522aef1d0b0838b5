// Incremental maintenance of the corpus queries against the server itself:
// each query is compiled and lowered to a dataflow, loaded with the current
// contents of its sources, and then, after each of N seeded random DML
// batches (inserts, updates of any column including keys, deletes, NULLs,
// duplicates), fed the changes of its sources; its maintained result must
// equal the server's recomputation of the query, as multisets (floats to 12
// significant digits).
//
// The changes are computed here as the difference of each source's contents
// before and after the batch (a Z-set is exactly that difference); the
// replication path that produces them in the daemon is tested on its own.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>

#include "corpus_support.hpp"
#include "pgstream/common/error.hpp"
#include "pgstream/engine/datum_io.hpp"
#include "pgstream/sql/collation.hpp"
#include "pgstream/sql/compiler.hpp"
#include "pgstream/sql/explain.hpp"
#include "pgstream/sql/lowering.hpp"
#include "pgstream/sql/server_evaluator.hpp"
#include "support/pg_cluster.hpp"

namespace {

using pgstream::PgConnection;
using pgstream::PgResult;
using pgstream::engine::RowPacker;
using pgstream::sql::Oid;
using TextRow = std::vector<std::optional<std::string>>;
using TextMultiset = std::map<TextRow, std::int64_t>;

constexpr Oid kFloat4 = 700;
constexpr Oid kFloat8 = 701;
constexpr Oid kBpchar = 1042;

PgResult run(PgConnection& connection, const std::string& sql) { return connection.exec(sql); }

// Executes a statement that may legitimately fail (a duplicate key, a
// foreign key, a partition bound): the failure is part of the random walk.
// Runs inside the test's transaction, under a savepoint.
bool try_exec(PgConnection& connection, const std::string& sql) {
  run(connection, "SAVEPOINT attempt");
  PGresult* result = PQexec(connection.get(), sql.c_str());
  const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK || PQresultStatus(result) == PGRES_TUPLES_OK;
  PQclear(result);
  run(connection, ok ? "RELEASE SAVEPOINT attempt" : "ROLLBACK TO SAVEPOINT attempt");
  return ok;
}

std::string float_text(const std::string& text) {
  if (text == "NaN" || text == "Infinity" || text == "-Infinity") return text;
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.12g", std::strtod(text.c_str(), nullptr));
  std::string out = buffer;
  return out == "-0" ? "0" : out;
}

TextMultiset server_rows(PgConnection& connection, const std::string& sql, const std::vector<Oid>& types) {
  PgResult result = run(connection, sql);
  TextMultiset rows;
  for (int r = 0; r < PQntuples(result.get()); ++r) {
    TextRow row;
    for (int c = 0; c < PQnfields(result.get()); ++c) {
      if (PQgetisnull(result.get(), r, c) != 0) {
        row.emplace_back();
        continue;
      }
      std::string value = PQgetvalue(result.get(), r, c);
      const Oid type = static_cast<std::size_t>(c) < types.size() ? types[static_cast<std::size_t>(c)] : 0;
      row.emplace_back(type == kFloat4 || type == kFloat8 ? float_text(value) : value);
    }
    ++rows[row];
  }
  return rows;
}

std::string describe(const TextMultiset& rows) {
  std::string out;
  for (const auto& [row, count] : rows) {
    out += "  " + std::to_string(count) + " x (";
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) out += ", ";
      out += row[i] ? *row[i] : "NULL";
    }
    out += ")\n";
  }
  return out;
}

// Rows present on one side only (with the difference of their counts).
std::string difference(const TextMultiset& engine, const TextMultiset& server) {
  TextMultiset only;
  for (const auto& [row, count] : engine) {
    auto it = server.find(row);
    std::int64_t other = it == server.end() ? 0 : it->second;
    if (count != other) only[row] = count - other;
  }
  for (const auto& [row, count] : server) {
    if (engine.count(row) == 0) only[row] = -count;
  }
  return describe(only);
}

// One source relation as the dataflow sees it: its used columns, and its
// contents at the last feed.
struct FedSource {
  pgstream::sql::LoweredSource lowered;
  std::string select;
  std::vector<Oid> types;
  TextMultiset contents;
};

class Maintained {
 public:
  Maintained(PgConnection& connection, const pgstream::sql::LogicalPlan& plan,
             const pgstream::engine::Collation* collation, pgstream::sql::ServerEvaluation* server)
      : Maintained(connection, {&plan}, collation, server, nullptr) {}

  // Several queries in one dataflow; with a context they share sources and
  // equal subplans, and each shared source is fed once.
  Maintained(PgConnection& connection, const std::vector<const pgstream::sql::LogicalPlan*>& plans,
             const pgstream::engine::Collation* collation, pgstream::sql::ServerEvaluation* server,
             pgstream::sql::LoweringContext* context)
      : connection_(connection) {
    pgstream::sql::LoweringOptions options;
    options.collation = collation;
    options.server = server;
    options.context = context;
    std::vector<pgstream::sql::LoweredSource> all;
    for (const auto* plan : plans) {
      lowered_.push_back(pgstream::sql::lower(*plan, dataflow_, options));
      for (const auto& source : lowered_.back().sources) {
        const bool fed =
            std::any_of(all.begin(), all.end(), [&](const auto& s) { return s.node == source.node; });
        if (!fed) all.push_back(source);
      }
    }
    results_.resize(plans.size());
    for (const auto& source : all) {
      FedSource fed;
      fed.lowered = source;
      std::string columns;
      for (int c : source.columns) {
        const auto& column = source.relation->columns[static_cast<std::size_t>(c)];
        if (!columns.empty()) columns += ", ";
        columns += connection.quote_identifier(column.name);
        fed.types.push_back(column.type.oid);
      }
      fed.select = "SELECT " + (columns.empty() ? std::string("") : columns) + " FROM " +
                   connection.quote_identifier(source.relation->schema) + "." +
                   connection.quote_identifier(source.relation->name);
      sources_.push_back(std::move(fed));
    }
  }

  // Feeds every source's change since the last call and runs one epoch.
  void step() {
    for (FedSource& source : sources_) {
      TextMultiset now = text_rows(source.select);
      auto& input = dataflow_.input(source.lowered.node);
      for (const auto& [row, count] : now) {
        auto it = source.contents.find(row);
        const std::int64_t before = it == source.contents.end() ? 0 : it->second;
        if (count != before) add(input, row, source.types, count - before);
      }
      for (const auto& [row, count] : source.contents) {
        if (now.count(row) == 0) add(input, row, source.types, -count);
      }
      source.contents = std::move(now);
    }
    dataflow_.step();
    for (std::size_t q = 0; q < lowered_.size(); ++q) {
      for (const auto& [row, weight] : dataflow_.delta(lowered_[q].output)) {
        std::string key(reinterpret_cast<const char*>(row.data()), row.size());
        std::int64_t& count = results_[q][key];
        count += weight;
        if (count == 0) results_[q].erase(key);
      }
    }
  }

  // char(n) values are stored without their padding; the target column's
  // type pads them again, as here.
  static void pad(std::string& value, std::int32_t length) {
    std::int32_t characters = 0;
    for (char ch : value) characters += (static_cast<unsigned char>(ch) & 0xC0) != 0x80 ? 1 : 0;
    if (characters < length) value.append(static_cast<std::size_t>(length - characters), ' ');
  }

  [[nodiscard]] const pgstream::engine::Dataflow& dataflow() const noexcept { return dataflow_; }

  [[nodiscard]] TextMultiset result(const std::vector<Oid>& types, const std::vector<std::int32_t>& typmods,
                                    std::size_t query = 0) const {
    TextMultiset out;
    for (const auto& [bytes, count] : results_[query]) {
      pgstream::engine::RowRef row(reinterpret_cast<const std::byte*>(bytes.data()),
                                   static_cast<std::uint32_t>(bytes.size()));
      TextRow text;
      std::size_t c = 0;
      for (pgstream::engine::DatumRef d : row) {
        if (d.is_null()) {
          text.emplace_back();
        } else {
          std::string value;
          pgstream::engine::format_datum(d, value);
          const Oid type = c < types.size() ? types[c] : 0;
          if (type == kBpchar && c < typmods.size() && typmods[c] >= 4) pad(value, typmods[c] - 4);
          text.emplace_back(type == kFloat4 || type == kFloat8 ? float_text(value) : value);
        }
        ++c;
      }
      if (count < 0) throw std::runtime_error("negative multiplicity " + describe({{text, count}}));
      out[text] += count;
    }
    return out;
  }

 private:
  TextMultiset text_rows(const std::string& select) { return server_rows(connection_, select, {}); }

  void add(pgstream::engine::ZSet& input, const TextRow& row, const std::vector<Oid>& types,
           std::int64_t weight) {
    packer_.clear();
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (row[c]) {
        pgstream::engine::parse_datum(types[c], *row[c], packer_);
      } else {
        packer_.push_null();
      }
    }
    input.add(packer_.row(), weight);
  }

  PgConnection& connection_;
  pgstream::engine::Dataflow dataflow_;
  std::vector<pgstream::sql::LoweredQuery> lowered_;
  std::vector<FedSource> sources_;
  std::vector<std::map<std::string, std::int64_t>> results_;
  RowPacker packer_;
};

// Seeded random DML over the corpus schema, driven by the column types.
class RandomDml {
 public:
  RandomDml(PgConnection& connection, std::uint64_t seed) : connection_(connection), rng_(seed) {}

  void batch(const std::vector<std::shared_ptr<const pgstream::sql::SourceRelation>>& relations) {
    if (relations.empty()) return;
    const int statements = 1 + pick(4);
    for (int i = 0; i < statements; ++i) {
      const auto& relation = *relations[static_cast<std::size_t>(pick(static_cast<int>(relations.size())))];
      statement(relation);
    }
  }

 private:
  int pick(int n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }
  bool chance(int percent) { return pick(100) < percent; }

  std::string value(const pgstream::sql::RelationColumn& column) {
    if (!column.not_null && chance(15)) return "NULL";
    static const char* const kTexts[] = {"'north'",  "'south'",  "'Ann'",   "'ann'",   "'Bob'",
                                         "'éclair'", "'Eclair'", "'Zebra'", "'apple'", "'paid'",
                                         "'new'",    "'void'",   "''",      "'A1'",    "'B2'"};
    static const char* const kJson[] = {"'{\"color\": \"red\"}'", "'{\"x\": 1}'", "'[1, 2, 3]'",
                                        "'{\"color\": \"blue\", \"sizes\": [3]}'", "'null'"};
    static const char* const kArrays[] = {"'{fruit,red}'", "'{fruit}'", "'{}'", "'{veg,NULL}'"};
    static const char* const kFloats[] = {"0", "0.5", "1.25", "-2.5", "3", "100"};
    switch (column.type.oid) {
      case 16: return chance(50) ? "true" : "false";
      case 21:
      case 23:
      case 20: return std::to_string(pick(12));
      case 700:
      case 701: return kFloats[pick(6)];
      case 1700: return std::to_string(pick(400)) + "." + std::to_string(pick(10)) + std::to_string(pick(10));
      case 25:
      case 1043: return kTexts[pick(15)];
      case 1042: return chance(50) ? "'de'" : (chance(50) ? "'en'" : "'fr'");
      case 1082:
        return "'" + std::to_string(2024 + pick(2)) + "-0" + std::to_string(1 + pick(9)) + "-1" +
               std::to_string(pick(9)) + "'";
      case 1114:
      case 1184: return "'2024-04-0" + std::to_string(1 + pick(9)) + " 1" + std::to_string(pick(10)) + ":30'";
      case 3802:
      case 114: return kJson[pick(5)];
      case 1009: return kArrays[pick(4)];
      default: return "NULL";
    }
  }

  std::string table(const pgstream::sql::SourceRelation& relation) const {
    return connection_.quote_identifier(relation.schema) + "." + connection_.quote_identifier(relation.name);
  }

  // `tableoid, ctid` of the k-th row: a reproducible choice of an existing row.
  std::string some_row(const pgstream::sql::SourceRelation& relation) {
    const std::string count = connection_.query_value("SELECT count(*) FROM " + table(relation));
    const long n = std::stol(count);
    if (n == 0) return "";
    return "(tableoid, ctid) = (SELECT tableoid, ctid FROM " + table(relation) + " ORDER BY 1, 2 OFFSET " +
           std::to_string(pick(static_cast<int>(n))) + " LIMIT 1)";
  }

  void statement(const pgstream::sql::SourceRelation& relation) {
    const int kind = pick(100);
    if (kind < 35) {
      std::string names;
      std::string values;
      for (const auto& column : relation.columns) {
        if (!names.empty()) {
          names += ", ";
          values += ", ";
        }
        names += connection_.quote_identifier(column.name);
        values += value(column);
      }
      try_exec(connection_, "INSERT INTO " + table(relation) + " (" + names + ") VALUES (" + values + ")");
    } else if (kind < 45) {
      // An exact duplicate of an existing row (keyless tables keep both).
      const std::string where = some_row(relation);
      if (!where.empty())
        try_exec(connection_,
                 "INSERT INTO " + table(relation) + " SELECT * FROM " + table(relation) + " WHERE " + where);
    } else if (kind < 80) {
      const std::string where = some_row(relation);
      const auto& column =
          relation.columns[static_cast<std::size_t>(pick(static_cast<int>(relation.columns.size())))];
      if (!where.empty()) {
        try_exec(connection_, "UPDATE " + table(relation) + " SET " +
                                  connection_.quote_identifier(column.name) + " = " + value(column) +
                                  " WHERE " + where);
      }
    } else {
      const std::string where = some_row(relation);
      if (!where.empty()) try_exec(connection_, "DELETE FROM " + table(relation) + " WHERE " + where);
    }
  }

  PgConnection& connection_;
  std::mt19937_64 rng_;
};

struct Totals {
  std::size_t compiled = 0;
  std::size_t maintained = 0;
  std::size_t not_lowered = 0;
  std::size_t batches = 0;
  std::size_t failed_epochs = 0;
  std::size_t tie_differences = 0;
  std::map<std::string, std::size_t> reasons;
};

// ORDER BY ... LIMIT, DISTINCT ON and aggregates with ORDER BY choose
// among rows that tie on the sort keys as the executor meets them: the
// engine may choose other (equally right) rows or element orders.
bool chooses_among_ties(const pgstream::sql::PlanPtr& node) {
  if (node->kind == pgstream::sql::PlanKind::TopK) return true;
  if (node->kind == pgstream::sql::PlanKind::Distinct && !node->distinct_on.empty()) return true;
  // string_agg(x ORDER BY k) / array_agg: elements tied on k come in any order.
  for (const auto& aggregate : node->aggregates) {
    if (!aggregate->order_by.empty() && !aggregate->within_group) return true;
  }
  return std::any_of(node->inputs.begin(), node->inputs.end(), chooses_among_ties);
}

// LIMIT without ORDER BY returns any rows: only their number is defined.
bool arbitrary_rows(const pgstream::sql::PlanPtr& node) {
  if (node->kind == pgstream::sql::PlanKind::TopK && node->sort_keys.empty()) return true;
  return std::any_of(node->inputs.begin(), node->inputs.end(), arbitrary_rows);
}

std::int64_t row_count(const TextMultiset& rows) {
  std::int64_t n = 0;
  for (const auto& [row, count] : rows) n += count;
  return n;
}

int batches_per_query() {
  const char* env = std::getenv("PGSTREAM_SQL_BATCHES");
  return env != nullptr ? std::atoi(env) : 50;
}

// Runs one corpus query through `batches` random batches; returns false if it
// could not be lowered.
void maintain(pgstream::testing::PgDatabase& db, const pgstream::testing::CorpusQuery& query,
              std::uint64_t seed, const pgstream::engine::Collation* collation,
              pgstream::sql::ServerEvaluation* server, Totals& totals) {
  PgConnection& connection = db.connection();
  pgstream::sql::LogicalPlan plan = pgstream::sql::compile_query(connection, query.sql);
  ++totals.compiled;
  std::vector<Oid> types;
  std::vector<std::int32_t> typmods;
  for (const auto& type : plan.column_types) {
    types.push_back(type.oid);
    typmods.push_back(type.typmod);
  }
  const std::string recompute = "SELECT * FROM (" + plan.defining_query + "\n) AS q";
  std::unique_ptr<Maintained> maintained;
  try {
    maintained = std::make_unique<Maintained>(connection, plan, collation, server);
  } catch (const pgstream::Error& error) {
    if (error.kind() != pgstream::ErrorKind::Unsupported) throw;
    ++totals.not_lowered;
    std::string reason = error.message().substr(0, error.message().find(" is not supported"));
    ++totals.reasons[reason];
    if (std::getenv("PGSTREAM_SQL_VERBOSE") != nullptr)
      std::cerr << query.file << ": " << error.message() << "\n";
    return;
  }
  ++totals.maintained;
  RandomDml dml(connection, seed);
  run(connection, "BEGIN");
  const int batches = batches_per_query();
  for (int b = 0; b <= batches; ++b) {
    if (b > 0) dml.batch(plan.sources);
    try {
      maintained->step();
    } catch (const pgstream::Error& error) {
      // A SQL error in the query (e.g. division by zero on new data): the
      // server must raise it too; the dataflow is rebuilt from the data.
      INFO(query.file << " batch " << b << ": the dataflow failed with " << error.describe());
      CHECK_FALSE(try_exec(connection, recompute));
      ++totals.failed_epochs;
      maintained = std::make_unique<Maintained>(connection, plan, collation, server);
      continue;
    }
    ++totals.batches;
    const TextMultiset expected = server_rows(connection, recompute, types);
    const TextMultiset actual = maintained->result(types, typmods);
    if (arbitrary_rows(plan.root)) {
      CHECK(row_count(actual) == row_count(expected));
      continue;
    }
    // Not verified to be a tie (the sort keys need not be in the output):
    // counted and reported, and the dedicated top-k tests use unique keys.
    if (actual != expected && chooses_among_ties(plan.root) && row_count(actual) == row_count(expected)) {
      ++totals.tie_differences;
      continue;
    }
    if (actual != expected) {
      FAIL_CHECK(query.file << " (seed " << seed << ") differs from the server after batch " << b << ":\n"
                            << query.sql << "\nengine minus server:\n"
                            << difference(actual, expected));
      break;
    }
  }
  run(connection, "ROLLBACK");
}

}  // namespace

TEST_CASE_METHOD(pgstream::testing::PgDatabase,
                 "corpus queries maintained incrementally equal the server's result after random DML",
                 "[pg][corpus][maintenance]") {
  exec(pgstream::testing::read_text(pgstream::testing::sql_test_dir() / "setup.sql"));
  // Random updates can close a cycle under a WITH RECURSIVE ... UNION ALL,
  // which PostgreSQL follows forever (the engine fails with 54001).
  exec("SET statement_timeout = '30s'");
  auto collation = pgstream::sql::database_collation(connection());
  // Server-side evaluation has its own connection, outside the test's transaction.
  PgConnection evaluation_connection(conninfo());
  pgstream::sql::ServerEvaluation server(evaluation_connection);
  const auto corpus = pgstream::testing::load_corpus();
  Totals totals;
  const auto start = std::chrono::steady_clock::now();
  std::uint64_t seed = 1;
  for (const auto& query : corpus) {
    if (!query.expected_error.empty()) continue;
    INFO(query.file << ":\n" << query.sql);
    maintain(*this, query, seed++, collation.get(), &server, totals);
  }
  // Every corpus query that compiles is maintained: a construct that stops
  // lowering is a regression (the reasons are printed below).
  CHECK(totals.not_lowered == 0);
  CHECK(totals.maintained >= 150);
  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string reasons;
  for (const auto& [reason, count] : totals.reasons)
    reasons += "  " + std::to_string(count) + " x " + reason + "\n";
  WARN(totals.maintained << " of " << totals.compiled << " corpus queries maintained through "
                         << totals.batches << " random DML batches (" << server.round_trips()
                         << " server evaluation round trips, " << totals.tie_differences
                         << " results differing only by the choice among ties, " << totals.failed_epochs
                         << " epochs failed as the server did) in " << elapsed << " s; not lowered yet:\n"
                         << reasons);
}

namespace {

// Compiles, lowers and checks `query` against the server after each of the
// given statements; returns the server evaluation round trips per step.
std::vector<std::uint64_t> follow(pgstream::testing::PgDatabase& db, const std::string& query,
                                  const std::vector<std::string>& statements,
                                  pgstream::sql::ServerEvaluation* server) {
  PgConnection& connection = db.connection();
  auto collation = pgstream::sql::database_collation(connection);
  const pgstream::sql::LogicalPlan plan = pgstream::sql::compile_query(connection, query);
  std::vector<Oid> types;
  std::vector<std::int32_t> typmods;
  for (const auto& type : plan.column_types) {
    types.push_back(type.oid);
    typmods.push_back(type.typmod);
  }
  Maintained maintained(connection, plan, collation.get(), server);
  std::vector<std::uint64_t> trips;
  for (std::size_t i = 0; i <= statements.size(); ++i) {
    if (i > 0) db.exec(statements[i - 1]);
    const std::uint64_t before = server != nullptr ? server->round_trips() : 0;
    maintained.step();
    trips.push_back(server != nullptr ? server->round_trips() - before : 0);
    const TextMultiset expected = server_rows(connection, query, types);
    const TextMultiset actual = maintained.result(types, typmods);
    INFO(query << "\nafter: " << (i > 0 ? statements[i - 1] : "the initial load")
               << "\nengine minus server:\n"
               << difference(actual, expected));
    CHECK(actual == expected);
  }
  return trips;
}

}  // namespace

TEST_CASE_METHOD(pgstream::testing::PgDatabase,
                 "user-defined functions and operators are evaluated by the server, one round trip per batch",
                 "[pg][maintenance]") {
  exec(pgstream::testing::read_text(pgstream::testing::sql_test_dir() / "setup.sql"));
  PgConnection evaluation_connection(conninfo());
  pgstream::sql::ServerEvaluation server(evaluation_connection);
  // add_tax() and shout() are SQL functions, <-> a user-defined operator:
  // the WHERE clause is one server expression, the SELECT list another.
  const std::string query =
      "SELECT id, add_tax(amount) AS taxed, id <-> customer_id AS mid FROM orders "
      "WHERE (id <-> 10) > 5 AND shout(status) <> 'VOID!'";
  const std::vector<std::uint64_t> trips =
      follow(*this, query,
             {"INSERT INTO orders SELECT g, NULL, g % 500, CASE WHEN g % 3 = 0 THEN 'void' ELSE 'paid' END, "
              "'2024-01-01' FROM generate_series(100, 1099) g",
              "UPDATE orders SET amount = amount + 1, status = 'void' WHERE id % 2 = 0",
              "DELETE FROM orders WHERE id % 5 = 0", "UPDATE orders SET note = 'x' WHERE id = 1"},
             &server);
  // 1,000 inserted, ~500 updated, ~200 deleted rows: still one round trip
  // for the predicate and one for the projection (the latter only for rows
  // that passed), never one per row; no change to a used column: none.
  REQUIRE(trips.size() == 5);
  CHECK(trips[1] == 2);
  CHECK(trips[2] == 2);
  CHECK(trips[3] == 2);
  CHECK(trips[4] == 0);
  CHECK(server.round_trips() <= 10);
}

TEST_CASE_METHOD(pgstream::testing::PgDatabase,
                 "text min/max, top-k and ordered string_agg follow the database collation, not C",
                 "[pg][maintenance][collation]") {
  REQUIRE(query_value("SELECT datcollate FROM pg_database WHERE datname = current_database()") ==
          "en_US.UTF-8");
  exec("CREATE TABLE t (id int PRIMARY KEY, g int NOT NULL, w text NOT NULL)");
  const std::string initial =
      "INSERT INTO t VALUES (1, 1, 'apple'), (2, 1, 'Banana'), (3, 1, 'éclair'), (4, 2, 'Zebra'), "
      "(5, 2, 'eclair'), (6, 2, 'Apple'), (7, 1, 'banana'), (8, 2, 'Ödön')";
  exec(initial);
  // The data orders differently under C, so agreement below means something.
  CHECK(query_value("SELECT string_agg(w, ',' ORDER BY w) FROM t") !=
        query_value("SELECT string_agg(w, ',' ORDER BY w COLLATE \"C\") FROM t"));
  CHECK(query_value("SELECT max(w) FROM t") != query_value("SELECT max(w COLLATE \"C\") FROM t"));
  const std::vector<std::string> changes = {
      "INSERT INTO t VALUES (9, 1, 'Zz'), (10, 2, 'ábc'), (11, 1, 'ABC')",
      "DELETE FROM t WHERE w IN ('apple', 'Apple')",
      "UPDATE t SET w = 'aardvark' WHERE id = 8",
      "UPDATE t SET g = 3 - g WHERE id % 2 = 0",
      "DELETE FROM t WHERE w = 'Zz'",
  };
  for (const char* query :
       {"SELECT g, min(w) AS lo, max(w) AS hi FROM t GROUP BY g", "SELECT w FROM t ORDER BY w LIMIT 3",
        "SELECT w FROM t ORDER BY w DESC LIMIT 2 OFFSET 1",
        "SELECT g, string_agg(w, ',' ORDER BY w) AS s FROM t GROUP BY g",
        "SELECT w, rank() OVER (ORDER BY w) AS r FROM t"}) {
    exec("TRUNCATE t");
    exec(initial);
    (void)follow(*this, query, changes, nullptr);
  }
}

TEST_CASE_METHOD(pgstream::testing::PgDatabase,
                 "a lowered plan explains its operators and the arrangements they use",
                 "[pg][maintenance][explain]") {
  exec(pgstream::testing::read_text(pgstream::testing::sql_test_dir() / "setup.sql"));
  const auto plan = pgstream::sql::compile_query(connection(),
                                                 "SELECT c.region, count(*) AS n FROM orders o JOIN "
                                                 "customers c ON c.id = o.customer_id GROUP BY c.region");
  pgstream::engine::Dataflow dataflow;
  const auto lowered = pgstream::sql::lower(plan, dataflow);
  const std::string tree = dataflow.explain(lowered.output);
  INFO(tree);
  const std::string check = pgstream::sql::explain_lowered(plan, dataflow, lowered.output);
  CHECK(check.find("plan:\nProject") == 0);
  CHECK(check.find("dataflow:\n#") != std::string::npos);
  CHECK(tree.find("reduce") != std::string::npos);
  CHECK(tree.find("join") != std::string::npos);
  CHECK(tree.find("[arranged by (") != std::string::npos);
  CHECK(tree.find("public.orders") != std::string::npos);
  CHECK(tree.find("public.customers") != std::string::npos);
}

TEST_CASE_METHOD(pgstream::testing::PgDatabase,
                 "stream tables in one dataflow share sources, equal subplans and their arrangements",
                 "[pg][maintenance][share]") {
  exec(pgstream::testing::read_text(pgstream::testing::sql_test_dir() / "setup.sql"));
  exec("SET statement_timeout = '30s'");
  const std::vector<std::string> queries = {
      "SELECT c.region, sum(o.amount) AS total FROM orders o JOIN customers c ON c.id = o.customer_id "
      "WHERE o.status = 'paid' GROUP BY c.region",
      "SELECT c.region, count(*) AS n, max(o.amount) AS top FROM orders o JOIN customers c ON c.id = "
      "o.customer_id "
      "WHERE o.status = 'paid' GROUP BY c.region",
      "SELECT o.customer_id, count(*) AS n FROM orders o WHERE o.status = 'paid' GROUP BY o.customer_id",
  };
  std::vector<pgstream::sql::LogicalPlan> plans;
  for (const auto& q : queries) plans.push_back(pgstream::sql::compile_query(connection(), q));
  std::vector<const pgstream::sql::LogicalPlan*> pointers;
  for (const auto& p : plans) pointers.push_back(&p);
  auto collation = pgstream::sql::database_collation(connection());

  // Lowered apart: each query its own sources, joins and arrangements.
  std::size_t apart_nodes = 0;
  std::size_t apart_arrangements = 0;
  for (const auto* plan : pointers) {
    pgstream::engine::Dataflow alone;
    (void)pgstream::sql::lower(*plan, alone, {.collation = collation.get()});
    apart_nodes += alone.node_count();
    apart_arrangements += alone.arrangement_count();
  }
  pgstream::sql::LoweringContext context;
  Maintained shared(connection(), pointers, collation.get(), nullptr, &context);
  INFO(shared.dataflow().node_count()
       << " nodes shared vs " << apart_nodes << " apart; " << shared.dataflow().arrangement_count()
       << " arrangements vs " << apart_arrangements);
  CHECK(context.reused >= 1);  // the second query reuses the first one's filtered join whole
  CHECK(shared.dataflow().node_count() < apart_nodes);
  CHECK(shared.dataflow().arrangement_count() < apart_arrangements);

  RandomDml dml(connection(), 7);
  exec("BEGIN");
  for (int batch = 0; batch <= 50; ++batch) {
    if (batch > 0) dml.batch(plans[0].sources);
    shared.step();
    for (std::size_t q = 0; q < plans.size(); ++q) {
      std::vector<Oid> types;
      std::vector<std::int32_t> typmods;
      for (const auto& type : plans[q].column_types) {
        types.push_back(type.oid);
        typmods.push_back(type.typmod);
      }
      const TextMultiset expected = server_rows(connection(), queries[q], types);
      const TextMultiset actual = shared.result(types, typmods, q);
      INFO("query " << q << " after batch " << batch << "\nengine minus server:\n"
                    << difference(actual, expected));
      REQUIRE(actual == expected);
    }
  }
  exec("ROLLBACK");
}

TEST_CASE_METHOD(pgstream::testing::PgDatabase,
                 "inner joins are ordered through their key equalities, not by cross products",
                 "[pg][maintenance][explain]") {
  exec(pgstream::testing::read_text(pgstream::testing::sql_test_dir() / "setup.sql"));
  const auto plan = pgstream::sql::compile_query(
      connection(),
      "SELECT c.name, p.title FROM customers c, products p, order_items i, orders o "
      "WHERE o.customer_id = c.id AND i.order_id = o.id AND i.sku = p.sku");
  pgstream::engine::Dataflow dataflow;
  const auto lowered = pgstream::sql::lower(plan, dataflow);
  const std::string tree = dataflow.explain(lowered.output);
  INFO(tree);
  CHECK(tree.find("join") != std::string::npos);
  CHECK(tree.find("[arranged by ()]") == std::string::npos);  // no join without keys
}
