#include "e2e/workload.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <sstream>

namespace pgstream::e2e {

namespace {

constexpr int kCustomers = 30;
constexpr int kProducts = 15;
constexpr int kOrders = 300;
constexpr int kNodes = 10;

int uniform(std::mt19937_64& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
bool chance(std::mt19937_64& rng, double p) { return std::bernoulli_distribution(p)(rng); }

std::string int_or_null(std::mt19937_64& rng, int lo, int hi, double null_p) {
  if (chance(rng, null_p)) return "NULL";
  return std::to_string(uniform(rng, lo, hi));
}

std::string amount(std::mt19937_64& rng) {
  if (chance(rng, 0.06)) return "NULL";
  const int cents = uniform(rng, 0, 20000);
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%d.%02d", cents / 100, cents % 100);
  return buffer;
}

std::string note(std::mt19937_64& rng) {
  static const char* const kNotes[] = {"'apple'", "'Banana'", "'cherry'", "'date'", "'Apple'", "''"};
  if (chance(rng, 0.2)) return "NULL";
  return kNotes[uniform(rng, 0, 5)];
}

std::string region(std::mt19937_64& rng) {
  static const char* const kRegions[] = {"'north'", "'south'", "'east'", "'west'"};
  if (chance(rng, 0.15)) return "NULL";
  return kRegions[uniform(rng, 0, 3)];
}

std::string category(std::mt19937_64& rng) {
  static const char* const kCategories[] = {"'tools'", "'toys'", "'food'"};
  if (chance(rng, 0.15)) return "NULL";
  return kCategories[uniform(rng, 0, 2)];
}

std::string kind(std::mt19937_64& rng) {
  static const char* const kKinds[] = {"'a'", "'b'", "'c'", "'d'"};
  if (chance(rng, 0.08)) return "NULL";
  return kKinds[uniform(rng, 0, 3)];
}

// A predicate matching one (kind, val) combination, NULLs included.
std::string event_match(std::mt19937_64& rng) {
  return "kind IS NOT DISTINCT FROM " + kind(rng) + "::text AND val IS NOT DISTINCT FROM " +
         int_or_null(rng, 0, 3, 0.1) + "::int";
}

}  // namespace

std::string workload_schema_sql() {
  return R"sql(
CREATE TABLE customers (id int PRIMARY KEY, name text, region text);
CREATE TABLE products (id int PRIMARY KEY, name text, category text, price numeric(10,2));
CREATE TABLE orders (id int PRIMARY KEY, customer_id int, product_id int, qty int, amount numeric(12,2), note text);
CREATE TABLE events (kind text, val int);
ALTER TABLE events REPLICA IDENTITY FULL;
CREATE TABLE edges (src int NOT NULL, dst int NOT NULL, PRIMARY KEY (src, dst));

INSERT INTO customers
  SELECT g, 'cust' || g,
         CASE WHEN g % 7 = 0 THEN NULL ELSE (ARRAY['north', 'south', 'east', 'west'])[g % 4 + 1] END
  FROM generate_series(1, 25) g;
INSERT INTO products
  SELECT g, 'prod' || g, CASE WHEN g % 5 = 0 THEN NULL ELSE (ARRAY['tools', 'toys', 'food'])[g % 3 + 1] END,
         (g * 3.25)::numeric(10,2)
  FROM generate_series(1, 12) g;
INSERT INTO orders
  SELECT g, CASE WHEN g % 17 = 0 THEN NULL ELSE g % 27 + 1 END, CASE WHEN g % 23 = 0 THEN NULL ELSE g % 13 + 1 END,
         CASE WHEN g % 19 = 0 THEN NULL ELSE g % 6 END,
         CASE WHEN g % 11 = 0 THEN NULL ELSE ((g * 3779) % 20000) / 100.0 END,
         CASE WHEN g % 5 = 0 THEN NULL ELSE (ARRAY['apple', 'Banana', 'cherry', 'date'])[g % 4 + 1] END
  FROM generate_series(1, 150) g;
INSERT INTO events
  SELECT CASE WHEN g % 13 = 0 THEN NULL ELSE (ARRAY['a', 'b', 'c', 'd'])[g % 4 + 1] END,
         CASE WHEN g % 9 = 0 THEN NULL ELSE g % 3 END
  FROM generate_series(1, 60) g;
INSERT INTO edges
  SELECT DISTINCT g % 10 + 1, (g * 7 + 3) % 10 + 1 FROM generate_series(1, 14) g
  WHERE g % 10 <> (g * 7 + 3) % 10;
)sql";
}

std::vector<StreamTableSpec> query_class_tables() {
  return {
      {"public.st_filter",
       "SELECT id, customer_id, qty * amount AS total, note FROM orders WHERE amount > 50 OR note IS NULL"},
      {"public.st_group",
       "SELECT customer_id, count(*) AS n, count(note) AS n_note, sum(amount) AS total, avg(amount) AS "
       "avg_amount,\n"
       "       min(amount) AS min_amount, max(amount) AS max_amount\n"
       "FROM orders GROUP BY customer_id"},
      {"public.st_join3",
       "SELECT c.region, p.category, count(*) AS n, sum(o.qty * p.price) AS revenue, max(o.amount) AS "
       "max_amount\n"
       "FROM orders o JOIN customers c ON c.id = o.customer_id JOIN products p ON p.id = o.product_id\n"
       "GROUP BY c.region, p.category"},
      {"public.st_left",
       "SELECT c.id AS customer_id, c.region, o.id AS order_id, o.amount\n"
       "FROM customers c LEFT JOIN orders o ON o.customer_id = c.id"},
      {"public.st_distinct", "SELECT DISTINCT customer_id, product_id FROM orders"},
      {"public.st_union",
       "SELECT customer_id AS id, 'order' AS origin FROM orders WHERE qty > 2\n"
       "UNION ALL\n"
       "SELECT id, 'customer' FROM customers WHERE region IS NULL"},
      {"public.st_except",
       "SELECT id FROM customers EXCEPT SELECT customer_id FROM orders WHERE amount > 150"},
      {"public.st_topk",
       "SELECT id, amount FROM orders WHERE amount IS NOT NULL ORDER BY amount DESC, id LIMIT 5"},
      {"public.st_window",
       "SELECT id, customer_id, row_number() OVER (PARTITION BY customer_id ORDER BY id) AS rn,\n"
       "       sum(amount) OVER (PARTITION BY customer_id) AS customer_total\n"
       "FROM orders"},
      {"public.st_recursive",
       "WITH RECURSIVE reach(src, dst) AS (\n"
       "  SELECT src, dst FROM edges\n"
       "  UNION\n"
       "  SELECT r.src, e.dst FROM reach r JOIN edges e ON e.src = r.dst)\n"
       "SELECT src, dst FROM reach"},
      {"public.st_exists",
       "SELECT c.id, c.name FROM customers c\n"
       "WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id AND o.amount > 100)"},
      {"public.st_notin",
       "SELECT p.id, p.name FROM products p\n"
       "WHERE p.id NOT IN (SELECT o.product_id FROM orders o WHERE o.qty = 6 AND o.amount > 150)"},
      {"public.st_stragg",
       "SELECT customer_id, string_agg(note, ',' ORDER BY note) AS notes FROM orders GROUP BY "
       "customer_id"},
      {"public.st_keyless", "SELECT kind, val FROM events WHERE val IS DISTINCT FROM 2"},
  };
}

std::vector<StreamTableSpec> crash_tables() {
  std::vector<StreamTableSpec> out;
  for (auto& table : query_class_tables()) {
    if (table.name == "public.st_group" || table.name == "public.st_join3" ||
        table.name == "public.st_left" || table.name == "public.st_topk" ||
        table.name == "public.st_keyless" || table.name == "public.st_distinct") {
      out.push_back(table);
    }
  }
  return out;
}

std::string random_statement(std::mt19937_64& rng) {
  const int order = uniform(rng, 1, kOrders);
  const int customer = uniform(rng, 1, kCustomers);
  switch (uniform(rng, 0, 19)) {
    case 0:
    case 1:
    case 2:
      return "INSERT INTO orders VALUES (" + std::to_string(order) + ", " +
             int_or_null(rng, 1, kCustomers + 3, 0.05) + ", " + int_or_null(rng, 1, kProducts + 2, 0.03) +
             ", " + int_or_null(rng, 0, 6, 0.05) + ", " + amount(rng) + ", " + note(rng) +
             ") ON CONFLICT (id) DO NOTHING";
    case 3:
    case 4:
      return "UPDATE orders SET amount = " + amount(rng) + ", qty = " + int_or_null(rng, 0, 6, 0.05) +
             ", note = " + note(rng) + " WHERE id = " + std::to_string(order);
    case 5:
    case 6:  // join keys
      return "UPDATE orders SET customer_id = " + int_or_null(rng, 1, kCustomers + 3, 0.05) +
             (chance(rng, 0.5) ? ", product_id = " + int_or_null(rng, 1, kProducts + 2, 0.03)
                               : std::string()) +
             " WHERE id = " + std::to_string(order);
    case 7: {  // primary key
      const std::string to = std::to_string(uniform(rng, 1, kOrders));
      return "UPDATE orders SET id = " + to + " WHERE id = " + std::to_string(order) +
             " AND NOT EXISTS (SELECT 1 FROM orders WHERE id = " + to + ")";
    }
    case 8:
      return chance(rng, 0.7) ? "DELETE FROM orders WHERE id = " + std::to_string(order)
                              : "DELETE FROM orders WHERE id BETWEEN " + std::to_string(order) + " AND " +
                                    std::to_string(order + 2);
    case 9:
      return "UPDATE orders SET amount = amount + " + std::to_string(uniform(rng, -50, 50)) +
             " WHERE customer_id = " + std::to_string(customer);
    case 10:
      return "INSERT INTO customers VALUES (" + std::to_string(customer) + ", 'cust" +
             std::to_string(customer) + "', " + region(rng) +
             ") ON CONFLICT (id) DO UPDATE SET region = EXCLUDED.region";
    case 11:
      return "UPDATE customers SET region = " + region(rng) + " WHERE id = " + std::to_string(customer);
    case 12:
      if (chance(rng, 0.5)) return "DELETE FROM customers WHERE id = " + std::to_string(customer);
      {
        const std::string to = std::to_string(uniform(rng, 1, kCustomers));
        return "UPDATE customers SET id = " + to + " WHERE id = " + std::to_string(customer) +
               " AND NOT EXISTS (SELECT 1 FROM customers WHERE id = " + to + ")";
      }
    case 13: {
      const std::string product = std::to_string(uniform(rng, 1, kProducts));
      switch (uniform(rng, 0, 2)) {
        case 0:
          return "INSERT INTO products VALUES (" + product + ", 'prod" + product + "', " + category(rng) +
                 ", " + amount(rng) +
                 ") ON CONFLICT (id) DO UPDATE SET category = EXCLUDED.category, price = EXCLUDED.price";
        case 1: return "UPDATE products SET category = " + category(rng) + " WHERE id = " + product;
        default: return "DELETE FROM products WHERE id = " + product;
      }
    }
    case 14:
    case 15: {  // keyless duplicates
      const std::string row = "(" + kind(rng) + ", " + int_or_null(rng, 0, 3, 0.1) + ")";
      std::string values = row;
      for (int copies = uniform(rng, 0, 2); copies > 0; --copies) values += ", " + row;
      return "INSERT INTO events VALUES " + values;
    }
    case 16:  // one of several identical rows
      return "DELETE FROM events WHERE ctid = (SELECT ctid FROM events WHERE " + event_match(rng) +
             " LIMIT 1)";
    case 17:
      return "UPDATE events SET val = " + int_or_null(rng, 0, 3, 0.1) +
             " WHERE ctid = (SELECT ctid FROM events WHERE " + event_match(rng) + " LIMIT 1)";
    default: {
      const std::string src = std::to_string(uniform(rng, 1, kNodes));
      const std::string dst = std::to_string(uniform(rng, 1, kNodes));
      switch (uniform(rng, 0, 2)) {
        case 0: return "INSERT INTO edges VALUES (" + src + ", " + dst + ") ON CONFLICT DO NOTHING";
        case 1: return "DELETE FROM edges WHERE src = " + src + " AND dst = " + dst;
        default:  // re-parent
          return "UPDATE edges SET src = " + src +
                 " WHERE (src, dst) IN (SELECT src, dst FROM edges WHERE dst = " + dst +
                 " LIMIT 1) AND NOT EXISTS (SELECT 1 FROM edges WHERE src = " + src + " AND dst = " + dst +
                 ")";
      }
    }
  }
}

bool run_random_transaction(PgConnection& conn, std::mt19937_64& rng) {
  const int statements = uniform(rng, 1, 4);
  const bool savepoint = chance(rng, 0.1);
  const bool rollback = chance(rng, 0.04);
  try {
    conn.exec("BEGIN");
    for (int i = 0; i < statements; ++i) {
      if (savepoint && i == statements - 1) {
        conn.exec("SAVEPOINT s");
        conn.exec(random_statement(rng));
        conn.exec("ROLLBACK TO SAVEPOINT s");
      } else {
        conn.exec(random_statement(rng));
      }
    }
    conn.exec(rollback ? "ROLLBACK" : "COMMIT");
    return !rollback;
  } catch (const Error&) {
    if (PQstatus(conn.get()) != CONNECTION_OK) throw;
    try {
      conn.exec("ROLLBACK");
    } catch (const Error&) {
      if (PQstatus(conn.get()) != CONNECTION_OK) throw;
    }
    return false;
  }
}

void check_all_equal(PgConnection& conn, const std::vector<StreamTableSpec>& tables) {
  for (const auto& table : tables) check_equal(conn, table.name, table.query);
}

void check_history_monotonic(PgConnection& conn) {
  PgResult decreasing = conn.exec(
      "SELECT t.pgs_name, h.refresh_id, h.action, h.prev::text, h.frontier_lsn::text FROM ("
      "  SELECT pgs_id, refresh_id, action, frontier_lsn,"
      "         lag(frontier_lsn) OVER (PARTITION BY pgs_id ORDER BY refresh_id) AS prev"
      "  FROM pgstream.pgs_refresh_history WHERE status = 'SUCCESS' AND frontier_lsn IS NOT NULL) h"
      " JOIN pgstream.pgs_stream_tables t USING (pgs_id) WHERE h.frontier_lsn < h.prev ORDER BY 2 LIMIT 10");
  std::ostringstream problems;
  for (int r = 0; r < PQntuples(decreasing.get()); ++r) {
    problems << "frontier decreased: " << PQgetvalue(decreasing.get(), r, 0) << " refresh_id "
             << PQgetvalue(decreasing.get(), r, 1) << " (" << PQgetvalue(decreasing.get(), r, 2) << ") "
             << PQgetvalue(decreasing.get(), r, 3) << " -> " << PQgetvalue(decreasing.get(), r, 4) << "\n";
  }
  PgResult duplicates = conn.exec(
      "SELECT t.pgs_name, h.frontier_lsn::text, count(*) FROM pgstream.pgs_refresh_history h"
      " JOIN pgstream.pgs_stream_tables t USING (pgs_id)"
      " WHERE h.action = 'DIFFERENTIAL' AND h.status = 'SUCCESS'"
      " GROUP BY t.pgs_name, h.frontier_lsn HAVING count(*) > 1 LIMIT 10");
  for (int r = 0; r < PQntuples(duplicates.get()); ++r) {
    problems << "DIFFERENTIAL applied twice at one frontier: " << PQgetvalue(duplicates.get(), r, 0) << " at "
             << PQgetvalue(duplicates.get(), r, 1) << " (" << PQgetvalue(duplicates.get(), r, 2)
             << " rows)\n";
  }
  CHECK(problems.str() == "");
}

}  // namespace pgstream::e2e
