-- correlated subquery over grouped columns
-- error: a correlated subquery in a grouped query is not supported (line 1, column 18)
SELECT c.region, (SELECT max(o.amount) FROM orders o WHERE o.customer_id = min(c.id)) AS m
FROM customers c GROUP BY c.region
