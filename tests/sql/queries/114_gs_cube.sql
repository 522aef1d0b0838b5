-- CUBE with GROUPING()
SELECT region, vip, count(*), GROUPING(region, vip) AS g FROM customers GROUP BY CUBE (region, vip)
