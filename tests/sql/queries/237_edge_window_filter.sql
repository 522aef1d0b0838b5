-- FILTER on a window aggregate
SELECT id, count(*) FILTER (WHERE status = 'paid') OVER (PARTITION BY customer_id) AS paid_in_group FROM orders
