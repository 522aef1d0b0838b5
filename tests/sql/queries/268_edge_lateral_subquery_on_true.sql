-- JOIN LATERAL ... ON true
SELECT * FROM customers c JOIN LATERAL (SELECT * FROM orders o WHERE o.customer_id = c.id) s ON true
