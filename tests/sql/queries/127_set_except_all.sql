-- EXCEPT ALL
SELECT sku FROM order_items EXCEPT ALL SELECT sku FROM products WHERE price > 1
