-- qualified star
SELECT o.*, c.name FROM orders o JOIN customers c ON c.id = o.customer_id
