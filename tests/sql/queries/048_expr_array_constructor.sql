-- ARRAY[] constructors
SELECT ARRAY[id, customer_id] AS ids, ARRAY[status] || ARRAY['x'] AS labels FROM orders
