-- JOIN USING (...) AS alias
SELECT j.id, orders.amount FROM orders JOIN big_orders USING (id) AS j
