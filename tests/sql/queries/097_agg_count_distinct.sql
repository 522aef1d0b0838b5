-- count(DISTINCT)
SELECT count(DISTINCT status) AS statuses, count(DISTINCT customer_id) AS buyers FROM orders
