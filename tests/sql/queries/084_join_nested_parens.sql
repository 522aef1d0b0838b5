-- parenthesized join tree
SELECT c.name, o.id, i.qty FROM customers c LEFT JOIN (orders o JOIN order_items i ON i.order_id = o.id) ON o.customer_id = c.id
