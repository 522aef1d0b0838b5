-- ONLY on a partitioned table
-- error: ONLY on the partitioned table public.measurements is not supported (line 1, column 23)
SELECT city FROM ONLY measurements
