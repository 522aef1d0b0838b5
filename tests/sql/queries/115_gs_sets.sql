-- GROUPING SETS
SELECT status, customer_id, sum(amount) FROM orders GROUP BY GROUPING SETS ((status), (customer_id), ())
