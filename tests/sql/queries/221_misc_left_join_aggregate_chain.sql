-- chained LEFT JOINs over aggregates
SELECT c.id, t.total, u.items FROM customers c LEFT JOIN (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id) t ON t.customer_id = c.id LEFT JOIN (SELECT o.customer_id, count(*) AS items FROM order_items i JOIN orders o ON o.id = i.order_id GROUP BY o.customer_id) u ON u.customer_id = c.id
