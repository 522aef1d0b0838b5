-- expressions over aggregates
SELECT status, round(sum(amount) / count(*), 2) AS mean, sum(amount) * 2 AS twice FROM orders GROUP BY status
