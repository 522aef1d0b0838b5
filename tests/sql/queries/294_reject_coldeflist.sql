-- column definition list
-- error: a column definition list on a function in FROM is not supported (line 1, column 15)
SELECT * FROM jsonb_to_record('{"a": 1}') AS x(a int)
