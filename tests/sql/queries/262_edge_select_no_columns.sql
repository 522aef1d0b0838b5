-- a SELECT with no columns
SELECT FROM orders
