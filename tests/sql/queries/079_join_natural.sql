-- NATURAL JOIN
SELECT * FROM customers NATURAL JOIN (SELECT id, 'x' AS tag FROM orders) o
