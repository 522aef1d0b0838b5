-- count(DISTINCT) over a join
SELECT c.region, count(DISTINCT o.status) FROM customers c JOIN orders o ON o.customer_id = c.id GROUP BY c.region
