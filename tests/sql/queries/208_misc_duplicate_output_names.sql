-- duplicate output names
SELECT id, id, amount AS id FROM orders
