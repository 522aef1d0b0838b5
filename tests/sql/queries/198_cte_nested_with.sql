-- WITH inside a subquery
SELECT * FROM (WITH x AS (SELECT id FROM orders) SELECT id FROM x WHERE id > 10) s
