-- bit string literals
SELECT B'101' AS b, X'1F' AS x
