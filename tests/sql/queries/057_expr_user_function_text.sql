-- user-defined function over text
SELECT shout(name) AS loud FROM customers
