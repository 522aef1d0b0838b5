-- jsonb_array_elements
SELECT e.kind, x.value FROM events e, jsonb_array_elements(CASE WHEN jsonb_typeof(e.payload) = 'array' THEN e.payload ELSE '[]' END) AS x
