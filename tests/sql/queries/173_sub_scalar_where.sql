-- scalar subquery in WHERE
SELECT id FROM orders WHERE amount > (SELECT avg(amount) FROM orders)
