-- VALUES in FROM joined to a table
SELECT v.code, o.id FROM (VALUES ('paid', 1), ('new', 2)) AS v(status, code) JOIN orders o ON o.status = v.status
