-- row locking
-- error: FOR UPDATE/SHARE (row locking) is not supported (line 1, column 23)
SELECT id FROM orders FOR SHARE
