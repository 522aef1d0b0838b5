-- TABLESAMPLE
-- error: TABLESAMPLE is not supported (line 1, column 16)
SELECT id FROM orders TABLESAMPLE BERNOULLI (10)
