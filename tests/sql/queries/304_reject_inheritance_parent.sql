-- inheritance parent
-- error: the inheritance parent public.vehicles is not supported (line 1, column 24)
SELECT id, wheels FROM vehicles
