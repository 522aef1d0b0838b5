-- concat() is STABLE in PostgreSQL
-- error: the function concat(), which is STABLE, is not supported (line 1, column 8)
SELECT concat(name, '-', id) AS tag FROM customers
