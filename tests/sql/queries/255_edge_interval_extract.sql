-- extract from an interval
SELECT id, extract(epoch FROM placed_at - timestamp '2024-01-01') AS secs FROM orders
