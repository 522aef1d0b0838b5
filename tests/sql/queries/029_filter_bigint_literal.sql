-- a literal beyond int4
SELECT kind FROM events WHERE n < 9000000000
