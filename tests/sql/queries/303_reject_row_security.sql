-- row-level security
-- error: the table public.secrets with row-level security is not supported (line 1, column 16)
SELECT id FROM secrets
