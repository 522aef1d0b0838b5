-- NOT
SELECT id FROM orders WHERE NOT (amount < 100)
