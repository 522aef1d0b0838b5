-- duplicate rows stay duplicates
SELECT sku, qty FROM order_items UNION ALL SELECT sku, qty FROM order_items
