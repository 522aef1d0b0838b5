-- jsonb_build_object is STABLE
-- error: the function jsonb_build_object(), which is STABLE, is not supported (line 1, column 8)
SELECT jsonb_build_object('id', id) AS doc FROM orders
