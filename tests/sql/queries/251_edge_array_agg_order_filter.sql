-- ORDER BY and FILTER on one aggregate
SELECT array_agg(id ORDER BY id DESC) FILTER (WHERE amount > 50) AS ids FROM orders
