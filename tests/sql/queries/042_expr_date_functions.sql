-- date/time functions and intervals
SELECT date_trunc('month', placed_at) AS month, extract(year FROM placed_at) AS y, date_part('dow', placed_at) AS dow, placed_at + interval '1 day' AS next_day, placed_at - interval '2 hours' AS earlier FROM orders
