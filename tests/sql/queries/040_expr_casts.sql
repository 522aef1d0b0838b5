-- casts, including to a typmod
SELECT id::text AS t, amount::int AS i, CAST(amount AS numeric(8, 1)) AS n, '42'::int AS c, placed_at::date AS d FROM orders
