-- math functions
SELECT abs(amount - 100) AS a, round(amount, 1) AS r, trunc(amount) AS t, floor(amount) AS f, ceil(amount) AS c, mod(id, 4) AS m, power(2, id % 5) AS p, sqrt(amount) AS s FROM orders
