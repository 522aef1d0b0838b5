-- non-equality correlation stays a correlated subplan
SELECT o.id, (SELECT count(*) FROM orders o2 WHERE o2.amount > o.amount) AS rank_above FROM orders o
