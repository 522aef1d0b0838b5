-- NULL in the first branch takes the second's type
SELECT NULL AS v UNION ALL SELECT id FROM orders
