-- temporary table
-- error: the temporary table session_notes is not supported (line 2, column 20)
SELECT o.id, n.body
FROM orders o JOIN session_notes n ON n.id = o.id
