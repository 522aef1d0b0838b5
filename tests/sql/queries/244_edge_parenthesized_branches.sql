-- top-k inside set-operation branches
(SELECT id FROM orders ORDER BY id LIMIT 2) UNION ALL (SELECT id FROM customers ORDER BY id DESC LIMIT 1)
