-- NULL group keys
SELECT region, count(*) FROM customers GROUP BY region
