-- aggregate FILTER
SELECT count(*) FILTER (WHERE status = 'paid') AS paid, sum(amount) FILTER (WHERE note IS NOT NULL) AS noted FROM orders
