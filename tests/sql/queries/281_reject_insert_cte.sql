-- data-modifying CTE
-- error: a data-modifying statement in WITH (moved) is not supported (line 1, column 6)
WITH moved AS (
  INSERT INTO scratch VALUES (1) RETURNING id
)
SELECT * FROM moved
