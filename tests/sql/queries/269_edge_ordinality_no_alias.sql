-- WITH ORDINALITY without an alias
SELECT * FROM generate_series(1, 3) WITH ORDINALITY
