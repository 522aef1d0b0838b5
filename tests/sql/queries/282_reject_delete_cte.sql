-- data-modifying CTE
-- error: a data-modifying statement in WITH (gone) is not supported (line 1, column 6)
WITH gone AS (DELETE FROM scratch RETURNING id) SELECT count(*) FROM gone
