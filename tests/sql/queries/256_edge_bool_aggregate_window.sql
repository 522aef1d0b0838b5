-- boolean aggregate as a window function
SELECT id, bool_or(vip) OVER (PARTITION BY region) AS any_vip FROM customers
