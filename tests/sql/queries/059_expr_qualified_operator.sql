-- OPERATOR(schema.op) syntax
SELECT id FROM orders WHERE amount OPERATOR(pg_catalog.>) 100
