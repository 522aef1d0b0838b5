-- DISTINCT ON * then top-k
SELECT DISTINCT ON (customer_id) * FROM orders ORDER BY customer_id, placed_at DESC LIMIT 3
