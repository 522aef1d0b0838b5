-- a CTE referenced twice is one shared plan
WITH totals AS (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id)
SELECT a.customer_id, a.total, b.total AS other FROM totals a JOIN totals b ON a.total < b.total
