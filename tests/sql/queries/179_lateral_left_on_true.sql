-- LEFT JOIN LATERAL ... ON true with a correlated aggregate
SELECT c.id, t.total FROM customers c LEFT JOIN LATERAL (SELECT sum(o.amount) AS total FROM orders o WHERE o.customer_id = c.id) t ON true
