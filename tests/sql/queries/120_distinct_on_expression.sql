-- DISTINCT ON an expression
SELECT DISTINCT ON (lower(name)) lower(name) AS n, id FROM customers ORDER BY lower(name), id
