-- varchar and char typmods
SELECT email, email::varchar(20) AS short, name::char(3) AS c3 FROM customers
