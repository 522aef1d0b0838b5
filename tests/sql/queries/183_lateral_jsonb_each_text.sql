-- jsonb_each_text in FROM
SELECT p.sku, e.key, e.value FROM products p, jsonb_each_text(p.attrs) AS e
