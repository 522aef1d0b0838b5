-- plain ORDER BY is dropped
SELECT id, amount FROM orders ORDER BY amount
