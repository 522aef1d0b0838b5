-- ROWS FROM with two functions
-- error: ROWS FROM (...) with several functions is not supported
SELECT * FROM ROWS FROM (generate_series(1, 2), generate_series(1, 3))
