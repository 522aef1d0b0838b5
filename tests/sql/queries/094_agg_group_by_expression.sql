-- GROUP BY an expression
SELECT date_trunc('month', placed_at) AS month, sum(amount) FROM orders GROUP BY date_trunc('month', placed_at)
