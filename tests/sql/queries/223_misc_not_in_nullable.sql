-- NOT IN with NULLs on the inner side
SELECT sku FROM products WHERE sku NOT IN (SELECT sku FROM order_items)
