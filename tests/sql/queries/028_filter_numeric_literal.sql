-- numeric literal
SELECT id FROM orders WHERE amount > 99.995
