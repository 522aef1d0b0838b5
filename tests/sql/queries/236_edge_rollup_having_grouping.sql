-- GROUPING() in HAVING
SELECT region, vip, count(*) FROM customers GROUP BY ROLLUP (region, vip) HAVING GROUPING(vip) = 1 OR count(*) > 1
