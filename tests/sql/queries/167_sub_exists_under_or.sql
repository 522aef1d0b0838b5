-- EXISTS under OR stays a subquery expression
SELECT c.id FROM customers c WHERE c.vip OR EXISTS (SELECT 1 FROM orders o WHERE o.customer_id = c.id)
