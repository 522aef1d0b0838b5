-- join alias with column names
SELECT j.a, j.b FROM (customers JOIN orders ON orders.customer_id = customers.id) AS j(a, b)
