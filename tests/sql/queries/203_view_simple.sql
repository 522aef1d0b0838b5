-- a view is expanded
SELECT id, amount FROM big_orders
