-- ROLLUP
SELECT region, vip, count(*) FROM customers GROUP BY ROLLUP (region, vip)
