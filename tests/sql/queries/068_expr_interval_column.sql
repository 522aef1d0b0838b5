-- timestamp difference as interval
SELECT id, placed_at - timestamp '2024-04-01' AS since FROM orders
