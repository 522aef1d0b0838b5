-- jsonb field as a group key
SELECT attrs ->> 'color' AS color, count(*) FROM products GROUP BY attrs ->> 'color'
