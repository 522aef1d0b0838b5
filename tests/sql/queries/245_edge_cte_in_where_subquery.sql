-- a CTE used inside a WHERE subquery
WITH paid AS (SELECT customer_id FROM orders WHERE status = 'paid') SELECT id FROM customers WHERE id IN (SELECT customer_id FROM paid)
