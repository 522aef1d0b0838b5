-- user-defined operator in SELECT and WHERE
SELECT id, id <-> customer_id AS mid FROM orders WHERE id <-> 10 > 5
