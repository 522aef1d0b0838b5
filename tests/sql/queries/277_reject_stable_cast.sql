-- timestamp to timestamptz depends on TimeZone
-- error: the function timestamptz(), which is STABLE, is not supported (line 1, column 21)
SELECT id, placed_at::timestamptz AS t FROM orders
