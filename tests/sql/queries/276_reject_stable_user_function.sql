-- user-defined STABLE function
-- error: the function exchange_rate(), which is STABLE, is not supported (line 1, column 16)
SELECT region, exchange_rate(region) AS rate FROM customers
