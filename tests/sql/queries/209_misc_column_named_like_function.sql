-- quoted output names
SELECT count(*) AS count, max(id) AS "MAX" FROM orders
