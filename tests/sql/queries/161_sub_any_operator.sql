-- op ANY (subquery)
SELECT id FROM orders WHERE amount > ANY (SELECT price * 100 FROM products)
