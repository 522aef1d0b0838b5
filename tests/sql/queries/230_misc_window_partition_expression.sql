-- PARTITION BY an expression
SELECT id, sum(amount) OVER (PARTITION BY date_trunc('month', placed_at)) AS monthly FROM orders
