-- UNION
SELECT region FROM customers UNION SELECT region FROM sales.targets
