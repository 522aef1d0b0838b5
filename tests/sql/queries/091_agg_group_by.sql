-- GROUP BY with the common aggregates
SELECT status, count(*), sum(amount), avg(amount), min(amount), max(amount) FROM orders GROUP BY status
