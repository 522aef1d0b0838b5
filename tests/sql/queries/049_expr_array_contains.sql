-- array containment and ANY over a column
SELECT sku FROM products WHERE tags @> ARRAY['fruit'] OR 'red' = ANY (tags)
