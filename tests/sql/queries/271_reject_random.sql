-- VOLATILE function
-- error: the function random(), which is VOLATILE, is not supported (line 1, column 12)
SELECT id, random() AS r FROM orders
