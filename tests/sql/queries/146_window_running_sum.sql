-- running sum
SELECT id, sum(amount) OVER (PARTITION BY customer_id ORDER BY id) AS running FROM orders
