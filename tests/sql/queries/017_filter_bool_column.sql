-- boolean column as predicate
SELECT id FROM customers WHERE vip
