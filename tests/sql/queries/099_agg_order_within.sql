-- ORDER BY inside aggregates
SELECT customer_id, string_agg(status, ',' ORDER BY placed_at DESC) AS history, array_agg(id ORDER BY id) AS ids FROM orders GROUP BY customer_id
