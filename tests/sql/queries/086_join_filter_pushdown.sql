-- WHERE conjuncts pushed to each side
SELECT c.name, o.amount FROM customers c JOIN orders o ON o.customer_id = c.id WHERE c.region = 'north' AND o.amount > 10 AND c.id + o.id > 3
