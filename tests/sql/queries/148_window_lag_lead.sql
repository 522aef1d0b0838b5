-- lag and lead
SELECT id, lag(amount) OVER (ORDER BY id) AS prev, lead(amount, 1, 0) OVER (ORDER BY id) AS next FROM orders
