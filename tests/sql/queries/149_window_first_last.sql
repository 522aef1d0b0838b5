-- named WINDOW clause
SELECT id, first_value(id) OVER w1 AS f FROM orders WINDOW w1 AS (ORDER BY id)
