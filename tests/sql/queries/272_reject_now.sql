-- STABLE function in WHERE
-- error: the function now(), which is STABLE, is not supported (line 3, column 19)
SELECT id
FROM orders
WHERE placed_at > now() - interval '1 day'
