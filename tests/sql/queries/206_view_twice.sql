-- the same view twice
SELECT a.id, b.id AS other FROM big_orders a, big_orders b WHERE a.amount < b.amount
