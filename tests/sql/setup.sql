-- Shared schema and sample data for the query corpus (tests/sql/queries).
CREATE TABLE customers (
  id int PRIMARY KEY,
  name text NOT NULL,
  region text,
  email varchar(100) UNIQUE,
  created date NOT NULL DEFAULT '2024-01-01',
  vip boolean NOT NULL DEFAULT false
);
CREATE TABLE orders (
  id int PRIMARY KEY,
  customer_id int REFERENCES customers (id),
  amount numeric(12, 2) NOT NULL,
  status text NOT NULL DEFAULT 'new',
  placed_at timestamp NOT NULL,
  note text
);
CREATE TABLE products (
  sku text PRIMARY KEY,
  title text NOT NULL,
  price numeric(10, 2),
  weight real,
  tags text[],
  attrs jsonb
);
CREATE TABLE order_items (order_id int, sku text, qty int, discount double precision);  -- keyless
CREATE TABLE events (kind text, payload jsonb, at timestamptz, n bigint);
ALTER TABLE events REPLICA IDENTITY FULL;
CREATE TABLE measurements (city text NOT NULL, day date NOT NULL, temp numeric(5, 1), rain smallint)
  PARTITION BY RANGE (day);
CREATE TABLE measurements_2024 PARTITION OF measurements FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE categories (id int PRIMARY KEY, parent_id int, name text NOT NULL);
CREATE TABLE employees (id int PRIMARY KEY, manager_id int, name text NOT NULL, dept text, salary int);
CREATE TABLE words (w text COLLATE "C", w2 text, lang char(2));
CREATE TABLE edges (src int NOT NULL, dst int NOT NULL, PRIMARY KEY (src, dst));
CREATE UNLOGGED TABLE scratch (id int);
CREATE TABLE secrets (id int PRIMARY KEY, owner text);
ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
CREATE TABLE vehicles (id int PRIMARY KEY, wheels int);
CREATE TABLE cars (doors int) INHERITS (vehicles);
CREATE SEQUENCE ticket_seq;
CREATE SCHEMA sales;
CREATE TABLE sales.targets (region text PRIMARY KEY, target numeric);

CREATE VIEW big_orders AS SELECT id, customer_id, amount FROM orders WHERE amount > 100;
CREATE VIEW big_order_regions AS
  SELECT b.id, c.region, b.amount FROM big_orders b JOIN customers c ON c.id = b.customer_id;
CREATE VIEW volatile_view AS SELECT id, random() AS r FROM customers;
CREATE MATERIALIZED VIEW order_totals AS SELECT customer_id, sum(amount) AS total FROM orders GROUP BY 1;

CREATE FUNCTION add_tax(numeric) RETURNS numeric IMMUTABLE LANGUAGE sql AS 'SELECT $1 * 1.2';
CREATE FUNCTION shout(text) RETURNS text IMMUTABLE LANGUAGE sql AS 'SELECT upper($1) || ''!''';
CREATE FUNCTION exchange_rate(text) RETURNS numeric STABLE LANGUAGE sql AS 'SELECT 1.0';
CREATE FUNCTION midpoint(int, int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT ($1 + $2) / 2';
CREATE OPERATOR <-> (LEFTARG = int, RIGHTARG = int, FUNCTION = midpoint);

INSERT INTO customers VALUES
  (1, 'Ann', 'north', 'ann@example.com', '2024-01-05', true),
  (2, 'Bob', 'south', 'bob@example.com', '2024-02-11', false),
  (3, 'Cé', NULL, NULL, '2024-03-01', false),
  (4, 'dan', 'north', 'dan@example.com', '2024-03-09', true);
INSERT INTO orders VALUES
  (10, 1, 120.50, 'paid', '2024-04-01 10:00', NULL),
  (11, 1, 80.00, 'new', '2024-04-02 11:30', 'gift'),
  (12, 2, 300.00, 'paid', '2024-04-03 09:15', NULL),
  (13, NULL, 15.25, 'void', '2024-04-04 16:45', 'orphan'),
  (14, 4, 80.00, 'paid', '2024-05-01 08:00', NULL);
INSERT INTO products VALUES
  ('A1', 'apple', 1.20, 0.2, '{fruit,red}', '{"color": "red", "sizes": [1, 2]}'),
  ('B2', 'Banana', 0.50, 0.15, '{fruit}', '{"color": "yellow"}'),
  ('C3', 'cherry', NULL, NULL, NULL, NULL);
INSERT INTO order_items VALUES (10, 'A1', 3, 0), (10, 'B2', 1, 0.1), (10, 'B2', 1, 0.1), (12, 'C3', NULL, NULL);
INSERT INTO events VALUES ('click', '{"x": 1}', '2024-04-01 10:00+00', 1), ('view', '[1, 2, 3]', NULL, 2);
INSERT INTO measurements VALUES ('Oslo', '2024-06-01', 18.5, 3), ('Oslo', '2025-06-01', 21.0, 0),
  ('Rome', '2024-06-01', 28.0, NULL);
INSERT INTO categories VALUES (1, NULL, 'root'), (2, 1, 'fruit'), (3, 2, 'apples'), (4, 1, 'veg');
INSERT INTO employees VALUES (1, NULL, 'Ada', 'eng', 200), (2, 1, 'Ben', 'eng', 150), (3, 1, 'Cy', 'ops', 120),
  (4, 2, 'Di', 'eng', 150);
INSERT INTO words VALUES ('apple', 'Äpfel', 'de'), ('Zebra', 'zebra', 'en'), ('éclair', 'Eclair', 'fr');
INSERT INTO edges VALUES (1, 2), (2, 3), (3, 1), (3, 4);
INSERT INTO sales.targets VALUES ('north', 500), ('south', 250);
