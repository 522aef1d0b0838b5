-- SQL value function
-- error: the STABLE SQL value function (CURRENT_DATE, CURRENT_TIMESTAMP, CURRENT_USER, ...) is not supported (line 1, column 39)
SELECT id FROM customers WHERE name = current_user
