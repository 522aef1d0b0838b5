-- implicit numeric casts
SELECT id + amount AS s, id + 1.5 AS t, weight * 2 AS w FROM orders, products
