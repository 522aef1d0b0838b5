-- op ALL (subquery) becomes an anti join on IS NOT TRUE
SELECT id FROM orders WHERE amount > ALL (SELECT price FROM products)
