-- op ANY (array)
SELECT id FROM orders WHERE status = ANY (ARRAY['paid', 'new'])
