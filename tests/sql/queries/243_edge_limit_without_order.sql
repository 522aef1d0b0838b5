-- LIMIT without ORDER BY
SELECT id FROM orders LIMIT 2
