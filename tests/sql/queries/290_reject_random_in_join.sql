-- VOLATILE function in a join condition
-- error: the function random(), which is VOLATILE, is not supported (line 2, column 31)
SELECT o.id FROM orders o JOIN customers c
  ON c.id = o.customer_id AND random() < 0.5
