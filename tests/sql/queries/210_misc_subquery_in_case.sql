-- EXISTS inside CASE
SELECT id, CASE WHEN EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id) THEN 'items' ELSE 'empty' END AS k FROM orders o
