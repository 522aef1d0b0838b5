-- varchar UNION text
SELECT email FROM customers UNION SELECT name FROM customers
