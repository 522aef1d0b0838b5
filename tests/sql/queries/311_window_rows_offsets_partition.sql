-- ROWS frame with offsets on both sides, per partition, min/max/count
SELECT id, customer_id, sum(amount) OVER w AS s, min(amount) OVER w AS lo, max(amount) OVER w AS hi, count(*) OVER w AS n FROM orders WINDOW w AS (PARTITION BY customer_id ORDER BY id ROWS BETWEEN 2 PRECEDING AND 1 FOLLOWING)
