-- system columns
-- error: the column reference "xmin" is not supported (line 1, column 8)
SELECT xmin, id FROM orders
