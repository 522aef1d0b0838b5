-- WHERE on the nullable side stays above the LEFT JOIN
SELECT c.id, o.amount FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.amount > 50
