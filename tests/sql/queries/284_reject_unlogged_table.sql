-- unlogged table
-- error: the unlogged table public.scratch is not supported (line 1, column 16)
SELECT id FROM scratch
