-- boolean output columns
SELECT id, amount > 100 AS big, note IS NULL AS no_note FROM orders
