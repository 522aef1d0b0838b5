-- row locking
-- error: FOR UPDATE/SHARE (row locking) is not supported (line 2, column 1)
SELECT id FROM orders
FOR UPDATE
