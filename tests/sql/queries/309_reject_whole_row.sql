-- whole-row reference
-- error: the whole-row reference "o" is not supported (line 1, column 8)
SELECT o FROM orders o
