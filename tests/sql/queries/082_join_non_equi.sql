-- non-equi join
SELECT o.id, t.region FROM orders o JOIN sales.targets t ON o.amount * 2 < t.target
