-- numeric scale rules
SELECT amount * 1.10 AS taxed, amount / 7 AS sevenths, round(amount / 3, 4) AS r FROM orders
