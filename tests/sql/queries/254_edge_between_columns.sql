-- BETWEEN with column bounds in a join
SELECT id FROM orders o JOIN sales.targets t ON o.amount BETWEEN t.target / 10 AND t.target
