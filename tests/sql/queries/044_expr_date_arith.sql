-- date arithmetic
SELECT created + 7 AS week_later, created - date '2024-01-01' AS days FROM customers
