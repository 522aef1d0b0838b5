-- a scalar function's alias names its column
SELECT x FROM generate_series(1, 3) x WHERE x > 1
