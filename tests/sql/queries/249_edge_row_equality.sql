-- row equality
SELECT id FROM customers WHERE (id, name) = (1, 'Ann')
