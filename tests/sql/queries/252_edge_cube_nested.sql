-- CUBE with a composite element
SELECT region, vip, created, count(*) FROM customers GROUP BY CUBE (region, (vip, created))
