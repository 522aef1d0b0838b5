-- four-way join
SELECT c.region, o.id, i.sku, p.title FROM customers c JOIN orders o ON o.customer_id = c.id JOIN order_items i ON i.order_id = o.id JOIN products p ON p.sku = i.sku
