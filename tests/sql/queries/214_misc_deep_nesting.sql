-- nested subqueries
SELECT x FROM (SELECT y AS x FROM (SELECT z AS y FROM (SELECT id AS z FROM orders) a) b) c
