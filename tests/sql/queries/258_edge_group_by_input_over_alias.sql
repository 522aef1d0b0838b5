-- GROUP BY resolves input columns first
SELECT status AS region, count(*) FROM orders GROUP BY status
