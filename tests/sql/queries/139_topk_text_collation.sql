-- top-k over text in en_US
SELECT w FROM words ORDER BY w2 LIMIT 2
