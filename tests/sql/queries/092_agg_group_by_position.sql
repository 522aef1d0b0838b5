-- GROUP BY position
SELECT status, count(*) FROM orders GROUP BY 1
