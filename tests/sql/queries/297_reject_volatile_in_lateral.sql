-- VOLATILE function in a FROM function
-- error: the function random(), which is VOLATILE, is not supported (line 1, column 54)
SELECT c.id, g FROM customers c, generate_series(1, (random() * 3)::int) g
