-- a view joined to a table
SELECT v.id, c.name FROM big_orders v JOIN customers c ON c.id = v.customer_id
