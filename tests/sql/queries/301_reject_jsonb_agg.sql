-- jsonb_agg is STABLE
-- error: the function jsonb_agg(), which is STABLE, is not supported (line 1, column 21)
SELECT customer_id, jsonb_agg(id) AS ids FROM orders GROUP BY customer_id
