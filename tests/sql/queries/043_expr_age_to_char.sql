-- age on timestamps
SELECT age(placed_at, timestamp '2024-01-01') AS age, placed_at::date - 1 AS day_before FROM orders
