-- VOLATILE function
-- error: the function clock_timestamp(), which is VOLATILE, is not supported (line 1, column 8)
SELECT clock_timestamp() AS t
