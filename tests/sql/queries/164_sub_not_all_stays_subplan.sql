-- NOT (op ALL) stays a subplan
SELECT id FROM orders WHERE NOT (amount > ALL (SELECT price FROM products))
