-- jsonb_each in FROM
SELECT p.sku, e.key, e.value FROM products p, jsonb_each(p.attrs) e
