-- ARRAY(subquery)
SELECT c.id, ARRAY(SELECT o.id FROM orders o WHERE o.customer_id = c.id ORDER BY o.id) AS order_ids FROM customers c
