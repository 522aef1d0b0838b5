-- LATERAL unnest
SELECT p.sku, t.tag FROM products p, LATERAL unnest(p.tags) AS t(tag)
