-- numeric to money depends on lc_monetary
-- error: the function money(), which is STABLE, is not supported (line 1, column 18)
SELECT id, amount::money AS m FROM orders
