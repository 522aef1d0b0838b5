-- a comma join written in an order that would start with a cross product (customers x products); planned through the key equalities
SELECT c.name, p.title, i.qty FROM customers c, products p, order_items i, orders o WHERE o.customer_id = c.id AND i.order_id = o.id AND i.sku = p.sku
