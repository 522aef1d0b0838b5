-- NOT LIKE
SELECT name FROM customers WHERE name NOT LIKE '%n'
