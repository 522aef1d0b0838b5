-- to_char(timestamp) depends on lc_time
-- error: the function to_char(), which is STABLE, is not supported (line 1, column 12)
SELECT id, to_char(placed_at, 'YYYY-MM-DD') AS day FROM orders
