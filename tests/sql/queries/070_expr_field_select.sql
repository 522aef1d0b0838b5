-- field selection from a composite
SELECT (jsonb_each(attrs)).key AS k FROM products
