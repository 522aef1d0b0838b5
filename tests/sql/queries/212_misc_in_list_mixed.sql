-- IN list with mixed numeric literals
SELECT id FROM orders WHERE id IN (10, 11.0, 12)
