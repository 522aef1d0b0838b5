-- || over text
SELECT name || ' <' || email || '>' AS contact, name || id::text AS tagged FROM customers
