-- IN over a UNION
SELECT id FROM customers WHERE region IN (SELECT region FROM sales.targets UNION SELECT 'west')
