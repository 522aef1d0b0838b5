-- nested IN subqueries
SELECT sku FROM products WHERE sku IN (SELECT sku FROM order_items WHERE order_id IN (SELECT id FROM orders WHERE status = 'paid'))
