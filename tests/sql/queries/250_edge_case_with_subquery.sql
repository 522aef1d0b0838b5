-- scalar subquery inside CASE
SELECT id, CASE WHEN vip THEN (SELECT max(amount) FROM orders) END AS best FROM customers
