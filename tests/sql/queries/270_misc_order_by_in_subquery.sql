-- ORDER BY without LIMIT inside a subquery
SELECT * FROM (SELECT id FROM orders ORDER BY id) s
