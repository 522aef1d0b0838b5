-- COALESCE and NULLIF
SELECT id, coalesce(note, status) AS label, nullif(status, 'void') AS s, coalesce(customer_id, 0) AS c FROM orders
