-- Run once by the postgres image on first start (as the superuser "app"):
-- a sample schema and the least-privileged role pgstream runs as.
-- docs/OPERATIONS.md explains each grant.

CREATE TABLE customers (
  id     bigint PRIMARY KEY,
  name   text NOT NULL,
  region text NOT NULL
);
CREATE TABLE orders (
  id          bigserial PRIMARY KEY,
  customer_id bigint NOT NULL REFERENCES customers (id),
  amount      numeric(12, 2) NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO customers (id, name, region)
SELECT i, 'customer ' || i, (ARRAY['north', 'south', 'east', 'west'])[1 + i % 4]
FROM generate_series(1, 100) AS i;
INSERT INTO orders (customer_id, amount)
SELECT 1 + i % 100, round((random() * 500)::numeric, 2)
FROM generate_series(1, 1000) AS i;

-- The daemon's role: not a superuser. REPLICATION lets it open the
-- replication stream and create its slot.
CREATE ROLE pgstream LOGIN REPLICATION PASSWORD 'pgstream';
-- Its catalog schema (postgres.catalog_schema) is created by the daemon.
GRANT CREATE ON DATABASE app TO pgstream;
-- It reads the sources (the initial snapshot, FULL refreshes).
GRANT USAGE ON SCHEMA public TO pgstream;
GRANT SELECT ON customers, orders TO pgstream;
-- It creates and owns the stream tables (the targets) in this schema.
CREATE SCHEMA analytics;
GRANT USAGE, CREATE ON SCHEMA analytics TO pgstream;
-- Adding a table to a publication needs ownership of the table, which the
-- daemon does not have: the sources' owner publishes them, then hands the
-- publication to pgstream (which sets publish_via_partition_root on it).
CREATE PUBLICATION pgstream FOR TABLE customers, orders WITH (publish_via_partition_root = true);
ALTER PUBLICATION pgstream OWNER TO pgstream;
