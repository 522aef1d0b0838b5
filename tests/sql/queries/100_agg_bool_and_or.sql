-- boolean aggregates
SELECT region, bool_and(vip) AS all_vip, bool_or(vip) AS any_vip, every(vip) AS e FROM customers GROUP BY region
