-- FULL JOIN with NULL keys on both sides
SELECT a.customer_id AS l, b.id AS r FROM orders a FULL JOIN customers b ON a.customer_id = b.id WHERE a.customer_id IS NULL OR b.id IS NULL
