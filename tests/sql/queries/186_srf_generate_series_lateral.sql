-- generate_series bounded by a column
SELECT c.id, g.n FROM customers c, generate_series(1, c.id) AS g(n)
