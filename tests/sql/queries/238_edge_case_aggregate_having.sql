-- CASE inside an aggregate in HAVING
SELECT customer_id FROM orders GROUP BY customer_id HAVING sum(CASE WHEN status = 'paid' THEN amount ELSE 0 END) > 100
