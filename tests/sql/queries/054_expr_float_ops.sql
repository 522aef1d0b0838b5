-- real and double precision
SELECT weight * 1000 AS grams, weight::numeric(6, 3) AS w3, discount * 2 AS d FROM products, order_items
