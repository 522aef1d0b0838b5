-- NOT IN list
SELECT id FROM orders WHERE customer_id NOT IN (1, 2)
