-- IN list containing NULL
SELECT id FROM orders WHERE customer_id IN (1, NULL)
