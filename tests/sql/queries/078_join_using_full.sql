-- FULL JOIN USING merges the key
SELECT sku, title, qty FROM products FULL JOIN order_items USING (sku)
