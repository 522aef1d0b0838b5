-- rank and dense_rank without PARTITION BY
SELECT id, rank() OVER (ORDER BY amount DESC) AS r, dense_rank() OVER (ORDER BY amount DESC) AS d FROM orders
