-- generate_series in FROM
SELECT g FROM generate_series(1, 5) AS g
