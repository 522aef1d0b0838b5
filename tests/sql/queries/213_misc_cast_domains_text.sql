-- cast chain
SELECT id, amount::text::numeric AS round_trip FROM orders
