-- unknown literals resolved to text
SELECT 'a' AS x UNION SELECT 'b' UNION SELECT NULL
