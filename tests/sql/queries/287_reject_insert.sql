-- not a SELECT
-- error: INSERT is not supported (line 1, column 1)
INSERT INTO scratch VALUES (1)
