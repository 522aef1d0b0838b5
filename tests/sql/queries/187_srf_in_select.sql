-- set-returning function in the SELECT list
SELECT sku, unnest(tags) AS tag FROM products
