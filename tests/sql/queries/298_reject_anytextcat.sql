-- text || int is anytextcat, which PostgreSQL marks STABLE
-- error: the operator ||, which is STABLE, is not supported (line 1, column 13)
SELECT name || id AS tagged FROM customers
