-- IN (subquery) becomes a semi join
SELECT id, name FROM customers WHERE id IN (SELECT customer_id FROM orders WHERE amount > 100)
