-- LIMIT from a subquery
-- error: a non-constant LIMIT is not supported (line 1, column 41)
SELECT id FROM orders ORDER BY id LIMIT (SELECT 2)
