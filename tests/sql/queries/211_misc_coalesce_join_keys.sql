-- NULL join/group keys mapped by COALESCE
SELECT coalesce(o.customer_id, -1) AS cid, count(*) FROM orders o GROUP BY 1
