-- regular expressions
SELECT name FROM customers WHERE name ~ '^[A-Z]' AND email !~* 'EXAMPLE.org'
