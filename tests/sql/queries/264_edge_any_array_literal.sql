-- = ANY over an untyped array literal
SELECT id FROM orders WHERE id = ANY ('{10,12}')
