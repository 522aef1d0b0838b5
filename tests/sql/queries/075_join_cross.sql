-- cross join
SELECT c.name, p.sku FROM customers c CROSS JOIN products p
