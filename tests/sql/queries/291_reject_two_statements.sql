-- two statements
-- error: a query text with 2 statements is not supported (line 1, column 10)
SELECT 1;
SELECT 2
