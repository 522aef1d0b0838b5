-- recursive path building
WITH RECURSIVE chain AS (SELECT id, manager_id, name::text AS path FROM employees WHERE manager_id IS NULL UNION ALL SELECT e.id, e.manager_id, c.path || '/' || e.name FROM employees e JOIN chain c ON e.manager_id = c.id) SELECT id, path FROM chain
