-- ordered-set aggregates
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median, mode() WITHIN GROUP (ORDER BY status) AS common FROM orders
