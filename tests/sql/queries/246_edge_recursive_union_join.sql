-- recursive CTE joined back to a table
WITH RECURSIVE sub(id, name) AS (SELECT id, name FROM employees WHERE id = 1 UNION SELECT e.id, e.name FROM employees e JOIN sub s ON e.manager_id = s.id) SELECT s.name, e.dept FROM sub s JOIN employees e USING (id)
