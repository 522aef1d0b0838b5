-- a cast through text output that depends on DateStyle
-- error: the cast to text through text, which is STABLE, is not supported (line 1, column 16)
SELECT kind, at::text AS t FROM events
