-- sort key that is not an output column
SELECT name FROM customers ORDER BY created DESC, id LIMIT 2
