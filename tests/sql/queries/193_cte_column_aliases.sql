-- CTE column aliases
WITH t(x, y) AS (SELECT id, name FROM customers) SELECT y FROM t WHERE x > 1
