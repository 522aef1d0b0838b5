-- anti-join pattern via LEFT JOIN ... IS NULL
SELECT c.name, o.id FROM customers c LEFT JOIN orders o ON o.customer_id = c.id WHERE o.id IS NULL
