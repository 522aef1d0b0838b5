-- plain key times ROLLUP
SELECT region, vip, created, count(*) FROM customers GROUP BY region, ROLLUP (vip, created)
