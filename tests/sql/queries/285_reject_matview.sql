-- materialized view
-- error: the materialized view public.order_totals is not supported (line 1, column 15)
SELECT * FROM order_totals
