-- GROUP BY DISTINCT
SELECT status, count(*) FROM orders GROUP BY DISTINCT status, ROLLUP (status)
