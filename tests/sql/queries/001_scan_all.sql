-- plain scan, every column
SELECT * FROM customers
