-- user-defined IMMUTABLE SQL function in SELECT and WHERE
SELECT id, add_tax(amount) AS gross FROM orders WHERE add_tax(amount) > 100
