-- op ALL (subquery), correlated
SELECT id FROM orders WHERE amount >= ALL (SELECT amount FROM orders o2 WHERE o2.customer_id = orders.customer_id)
