-- top-k over a UNION
SELECT id FROM orders UNION SELECT id FROM customers ORDER BY 1 DESC LIMIT 3
