-- branch types unified by the server (int, numeric)
SELECT id, amount FROM orders UNION ALL SELECT id, 0 FROM customers UNION ALL SELECT 1, 2.5
