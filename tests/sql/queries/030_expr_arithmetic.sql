-- arithmetic
SELECT id, amount * 2 + 1 AS doubled, amount / 3 AS third, -amount AS neg, id % 3 AS m FROM orders
