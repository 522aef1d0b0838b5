-- one CTE
WITH paid AS (SELECT * FROM orders WHERE status = 'paid') SELECT customer_id, sum(amount) FROM paid GROUP BY customer_id
