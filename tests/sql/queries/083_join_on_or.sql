-- join condition with OR
SELECT o.id, c.id AS cid FROM orders o JOIN customers c ON c.id = o.customer_id OR c.vip
