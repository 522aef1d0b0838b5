-- two correlated scalar aggregates decorrelated into LEFT JOINs
SELECT c.id, (SELECT sum(o.amount) FROM orders o WHERE o.customer_id = c.id) AS total, (SELECT count(*) + 1 FROM orders o WHERE c.id = o.customer_id AND o.status = 'paid') AS paid_plus_one FROM customers c
