-- SQL value function
-- error: the STABLE SQL value function (CURRENT_DATE, CURRENT_TIMESTAMP, CURRENT_USER, ...) is not supported (line 1, column 47)
SELECT id FROM orders WHERE placed_at::date = CURRENT_DATE
