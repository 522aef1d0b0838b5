-- unnest WITH ORDINALITY
SELECT p.sku, t.tag, t.pos FROM products p CROSS JOIN unnest(p.tags) WITH ORDINALITY AS t(tag, pos)
