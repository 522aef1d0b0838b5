-- several different PARTITION BY clauses
SELECT id, count(*) OVER (PARTITION BY customer_id) AS per_customer, count(*) OVER (PARTITION BY status) AS per_status, count(*) OVER () AS total FROM orders
