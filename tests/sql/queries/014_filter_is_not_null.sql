-- IS NOT NULL
SELECT id, note FROM orders WHERE note IS NOT NULL
