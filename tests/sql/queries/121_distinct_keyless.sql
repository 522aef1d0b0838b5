-- DISTINCT over a keyless source with duplicates
SELECT DISTINCT sku, qty FROM order_items
