-- JOIN USING in a chain, with *
SELECT * FROM order_items JOIN orders ON orders.id = order_items.order_id JOIN products USING (sku)
