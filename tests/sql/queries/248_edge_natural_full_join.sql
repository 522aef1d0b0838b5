-- NATURAL FULL JOIN merges with COALESCE
SELECT * FROM (SELECT id, name FROM customers) a NATURAL FULL JOIN (SELECT id, name FROM customers WHERE vip) b
