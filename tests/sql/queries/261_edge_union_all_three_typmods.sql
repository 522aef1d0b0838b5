-- varchar(100) typmod kept through UNION ALL
SELECT email FROM customers UNION ALL SELECT email FROM customers
