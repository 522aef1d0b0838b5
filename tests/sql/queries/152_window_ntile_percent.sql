-- ntile, percent_rank, cume_dist
SELECT id, ntile(2) OVER (ORDER BY amount) AS half, percent_rank() OVER (ORDER BY amount) AS pr, cume_dist() OVER (ORDER BY amount) AS cd FROM orders
