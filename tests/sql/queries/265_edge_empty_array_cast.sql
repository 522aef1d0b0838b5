-- an empty ARRAY[] typed by its cast
SELECT ARRAY[]::int[] AS empty, id FROM orders
