-- ROW constructor
SELECT id, ROW(id, status) IS NOT NULL AS r FROM orders
