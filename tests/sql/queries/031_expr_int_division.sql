-- integer and float division
SELECT id / 2 AS half, id::float8 / 2 AS fhalf FROM orders
