-- right join
SELECT o.id, c.name FROM orders o RIGHT JOIN customers c ON c.id = o.customer_id
