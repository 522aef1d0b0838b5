-- VALUES rows unified to numeric
SELECT * FROM (VALUES (1), (2.5), (NULL)) AS v(x)
