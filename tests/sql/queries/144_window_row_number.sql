-- row_number
SELECT id, customer_id, row_number() OVER (PARTITION BY customer_id ORDER BY placed_at, id) AS rn FROM orders
