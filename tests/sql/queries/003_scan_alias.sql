-- table and column aliases
SELECT c.name AS customer, c.email FROM customers AS c
