-- nextval
-- error: the function nextval(), which is VOLATILE, is not supported (line 1, column 8)
SELECT nextval('ticket_seq') AS ticket, id FROM orders
