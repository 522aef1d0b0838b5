-- DISTINCT and FILTER together
SELECT customer_id, array_agg(DISTINCT status) AS statuses, count(*) FILTER (WHERE amount > 50) AS big FROM orders GROUP BY customer_id
