-- VOLATILE function inside an aggregate
-- error: the function random(), which is VOLATILE, is not supported (line 1, column 34)
SELECT customer_id, sum(amount * random()) AS s FROM orders GROUP BY customer_id
