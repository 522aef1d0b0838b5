-- aggregate over a UNION ALL subquery
SELECT k, count(*) FROM (SELECT region AS k FROM customers UNION ALL SELECT status FROM orders) u GROUP BY k
