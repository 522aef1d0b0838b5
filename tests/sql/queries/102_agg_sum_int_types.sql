-- sum/avg result types per input type
SELECT sum(qty) AS q, sum(discount) AS d, avg(qty) AS a, sum(n) AS nn FROM order_items, events
