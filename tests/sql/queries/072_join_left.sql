-- left join
SELECT o.id, c.name FROM orders o LEFT JOIN customers c ON c.id = o.customer_id
