-- a FROM-less SELECT of constants
SELECT 1 AS one, 'two' AS two, 3.0 AS three, true AS four
