-- correlated EXISTS over an aggregate
SELECT c.id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id GROUP BY o.customer_id HAVING sum(o.amount) > 100)
