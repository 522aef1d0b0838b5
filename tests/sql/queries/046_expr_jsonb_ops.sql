-- jsonb ? and @>
SELECT sku FROM products WHERE attrs ? 'color' AND attrs @> '{"color": "red"}'
