-- scalar aggregate
SELECT count(*) AS n FROM orders
