-- full join
SELECT o.id, c.name FROM orders o FULL JOIN customers c ON c.id = o.customer_id
