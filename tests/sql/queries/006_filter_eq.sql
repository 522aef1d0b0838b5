-- equality filter with an untyped literal
SELECT id, amount FROM orders WHERE status = 'paid'
