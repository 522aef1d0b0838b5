-- GREATEST and LEAST
SELECT id, greatest(amount, 100) AS g, least(id, customer_id, 5) AS l FROM orders
