-- window over an aggregate
SELECT customer_id, sum(amount) AS total, rank() OVER (ORDER BY sum(amount) DESC) AS r FROM orders GROUP BY customer_id
