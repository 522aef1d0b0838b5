-- COALESCE of real and numeric
SELECT coalesce(weight, price) AS w FROM products
