-- a query over several lines
SELECT id,
       amount
FROM orders
WHERE amount >= 80
  AND status <> 'void'
