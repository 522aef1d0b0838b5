-- unnest without an alias
SELECT * FROM unnest(ARRAY[1, 2, 3])
