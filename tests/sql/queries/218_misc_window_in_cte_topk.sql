-- window in a CTE, filtered, then top-k
WITH ranked AS (SELECT id, customer_id, rank() OVER (PARTITION BY customer_id ORDER BY amount DESC) AS r FROM orders) SELECT customer_id, id FROM ranked WHERE r = 1 ORDER BY customer_id LIMIT 10
