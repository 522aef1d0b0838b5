-- CYCLE clause
-- error: SEARCH/CYCLE clauses of WITH RECURSIVE is not supported (line 1, column 16)
WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3) CYCLE n SET is_cycle USING path SELECT n FROM t
