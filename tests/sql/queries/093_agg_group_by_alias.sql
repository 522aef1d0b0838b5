-- GROUP BY output alias
SELECT upper(status) AS s, count(*) FROM orders GROUP BY s
