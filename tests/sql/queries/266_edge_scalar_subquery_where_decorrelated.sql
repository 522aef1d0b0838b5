-- correlated scalar aggregate in WHERE becomes a LEFT JOIN below the filter
SELECT o.id FROM orders o WHERE o.amount > (SELECT avg(amount) FROM orders i WHERE i.customer_id = o.customer_id)
