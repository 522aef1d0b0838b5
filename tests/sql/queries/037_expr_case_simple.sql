-- simple CASE without ELSE
SELECT id, CASE status WHEN 'paid' THEN 1 WHEN 'new' THEN 2 END AS code FROM orders
