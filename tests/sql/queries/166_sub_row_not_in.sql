-- row-valued NOT IN stays a subplan
SELECT id FROM orders WHERE (customer_id, status) NOT IN (SELECT id, region FROM customers)
