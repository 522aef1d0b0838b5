-- three-valued logic in SELECT
SELECT id, (amount > 100) AND (note IS NULL) AS a, (amount > 100) OR (note IS NULL) AS o FROM orders
