-- array subscripts and slices
SELECT sku, tags[1] AS first_tag, tags[1:2] AS two, array_length(tags, 1) AS n, cardinality(tags) AS card FROM products
