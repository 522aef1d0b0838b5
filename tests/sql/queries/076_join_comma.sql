-- comma join with the condition in WHERE
SELECT c.name, o.amount FROM customers c, orders o WHERE c.id = o.customer_id AND o.amount > 50
