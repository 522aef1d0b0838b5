-- LATERAL VALUES
SELECT c.id, v.x FROM customers c, LATERAL (VALUES (c.id), (c.id * 10)) AS v(x)
