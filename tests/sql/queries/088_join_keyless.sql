-- keyless source in a join
SELECT i.sku, i.qty, o.status FROM order_items i JOIN orders o ON o.id = i.order_id
