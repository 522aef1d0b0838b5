-- ORDER BY an output alias
SELECT id, amount * 2 AS twice FROM orders ORDER BY twice DESC, id LIMIT 2
