-- quoted identifiers
SELECT "name", "Region" FROM (SELECT name, region AS "Region" FROM customers) s
