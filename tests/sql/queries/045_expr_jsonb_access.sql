-- jsonb -> ->> #>>
SELECT sku, attrs -> 'color' AS color_json, attrs ->> 'color' AS color, attrs -> 'sizes' -> 0 AS first_size, attrs #>> '{sizes,1}' AS second FROM products
