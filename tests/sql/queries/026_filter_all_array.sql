-- op ALL (array)
SELECT id FROM orders WHERE amount > ALL (ARRAY[10, 20.5])
