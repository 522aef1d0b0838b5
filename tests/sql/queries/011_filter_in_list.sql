-- IN list
SELECT id FROM orders WHERE status IN ('paid', 'void')
