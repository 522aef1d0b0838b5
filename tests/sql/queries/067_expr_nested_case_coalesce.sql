-- nested CASE in COALESCE
SELECT id, coalesce(CASE WHEN note IS NULL THEN NULL ELSE upper(note) END, '-') AS n FROM orders
