-- uncorrelated EXISTS
SELECT id FROM customers WHERE EXISTS (SELECT 1 FROM orders WHERE amount > 1000)
