-- row-valued IN (subquery) becomes a semi join
SELECT id FROM orders WHERE (customer_id, status) IN (SELECT id, region FROM customers)
