-- row comparison
SELECT id FROM orders WHERE (customer_id, amount) > (1, 100)
