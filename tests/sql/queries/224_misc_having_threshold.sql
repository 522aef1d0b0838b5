-- HAVING with two aggregates
SELECT region FROM customers GROUP BY region HAVING count(*) >= 2 AND bool_or(vip)
