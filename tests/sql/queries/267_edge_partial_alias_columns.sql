-- alias renaming only the first columns
SELECT * FROM (SELECT * FROM orders) AS s(a, b)
