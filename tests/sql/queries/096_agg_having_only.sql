-- HAVING without GROUP BY
SELECT count(*) FROM orders HAVING count(*) > 1
