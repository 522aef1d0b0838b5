-- projection of two columns
SELECT name, region FROM customers
