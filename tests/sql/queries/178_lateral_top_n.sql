-- LATERAL top-N per group
SELECT c.id, t.id AS order_id, t.amount FROM customers c, LATERAL (SELECT o.id, o.amount FROM orders o WHERE o.customer_id = c.id ORDER BY o.amount DESC LIMIT 2) t
