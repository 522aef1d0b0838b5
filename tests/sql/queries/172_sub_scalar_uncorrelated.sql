-- uncorrelated scalar subquery
SELECT id, amount - (SELECT avg(amount) FROM orders) AS diff FROM orders
