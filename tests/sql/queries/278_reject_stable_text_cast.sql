-- a cast through text output that depends on DateStyle
-- error: the cast from timestamp with time zone to text, which goes through text and is STABLE, is not supported (line 1, column 16)
SELECT kind, at::text AS t FROM events
