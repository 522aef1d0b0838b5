-- aggregate over an aggregate
SELECT avg(total) FROM (SELECT customer_id, sum(amount) AS total FROM orders GROUP BY customer_id) t
