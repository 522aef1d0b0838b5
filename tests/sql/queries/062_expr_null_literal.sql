-- untyped and typed NULL
SELECT id, NULL AS nothing, NULL::int AS typed_null FROM orders
