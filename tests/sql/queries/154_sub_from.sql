-- subquery in FROM, filter on its aggregate
SELECT s.status, s.n FROM (SELECT status, count(*) AS n FROM orders GROUP BY status) s WHERE s.n > 1
