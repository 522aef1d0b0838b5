-- comparison under an explicit collation
SELECT w FROM words WHERE w < 'b' COLLATE "C"
