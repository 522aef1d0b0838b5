-- two semi joins
SELECT c.id FROM customers c WHERE EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id) AND c.region IN (SELECT region FROM sales.targets)
