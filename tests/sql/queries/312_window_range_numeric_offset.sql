-- RANGE frame with a numeric offset over a numeric ORDER BY column (peers included)
SELECT id, amount, count(*) OVER (ORDER BY amount RANGE BETWEEN 50 PRECEDING AND CURRENT ROW) AS near_below, sum(amount) OVER (ORDER BY amount RANGE BETWEEN CURRENT ROW AND 25.5 FOLLOWING) AS near_above FROM orders
