-- RANGE frame with an interval offset over a timestamp ORDER BY column
SELECT id, placed_at, count(*) OVER (ORDER BY placed_at RANGE BETWEEN '2 days' PRECEDING AND '1 day' FOLLOWING) AS around FROM orders
