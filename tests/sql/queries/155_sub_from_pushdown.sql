-- filter pushed below a subquery's projection
SELECT * FROM (SELECT id, amount * 2 AS double_amount, status FROM orders) s WHERE status = 'paid'
