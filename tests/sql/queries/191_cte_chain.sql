-- a CTE over a CTE
WITH a AS (SELECT id, amount FROM orders), b AS (SELECT id FROM a WHERE amount > 50) SELECT count(*) FROM b
