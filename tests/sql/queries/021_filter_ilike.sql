-- ILIKE
SELECT name FROM customers WHERE name ILIKE 'a%'
