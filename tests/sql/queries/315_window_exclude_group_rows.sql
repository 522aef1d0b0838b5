-- ROWS frame to the partition's end with EXCLUDE GROUP; last_value over it
SELECT id, customer_id, count(*) OVER (PARTITION BY customer_id ORDER BY amount ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING EXCLUDE GROUP) AS after_peers, last_value(id) OVER (PARTITION BY customer_id ORDER BY amount, id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS last_id FROM orders
