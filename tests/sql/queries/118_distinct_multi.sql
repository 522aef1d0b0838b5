-- DISTINCT over two columns
SELECT DISTINCT customer_id, status FROM orders
