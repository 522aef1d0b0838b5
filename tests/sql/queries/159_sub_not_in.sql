-- NOT IN (subquery) becomes a null-aware anti join
SELECT id FROM customers WHERE id NOT IN (SELECT customer_id FROM orders)
