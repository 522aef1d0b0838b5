-- a view over a view
SELECT region, sum(amount) FROM big_order_regions GROUP BY region
