-- aggregate over a partitioned table
SELECT city, avg(temp) AS t, sum(rain) AS r FROM measurements GROUP BY city
