-- row locking, lower case
-- error: FOR UPDATE/SHARE (row locking) is not supported (line 1, column 23)
select id from orders for no key update
