-- two set-returning functions in the SELECT list are zipped (ProjectSet), one of them inside an expression
SELECT sku, unnest(tags) AS tag, upper(unnest(ARRAY['a', 'b', 'c'])) AS letter FROM products
