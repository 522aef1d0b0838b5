-- nested set operations
(SELECT id FROM orders EXCEPT SELECT 13) UNION (SELECT id FROM customers INTERSECT SELECT 1)
