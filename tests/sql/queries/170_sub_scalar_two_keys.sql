-- correlation on two keys
SELECT e.id, (SELECT max(x.salary) FROM employees x WHERE x.dept = e.dept AND x.manager_id = e.manager_id) AS peer_max FROM employees e
