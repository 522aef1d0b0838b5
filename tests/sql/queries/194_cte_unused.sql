-- an unreferenced CTE is not planned
WITH unused AS (SELECT random() AS r) SELECT id FROM customers
