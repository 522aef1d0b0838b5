-- user function inside an aggregate
SELECT customer_id, sum(add_tax(amount)) AS gross FROM orders GROUP BY customer_id
