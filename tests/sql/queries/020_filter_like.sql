-- LIKE
SELECT name FROM customers WHERE name LIKE 'A%'
