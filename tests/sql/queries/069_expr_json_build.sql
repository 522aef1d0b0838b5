-- jsonb concatenation and inspection functions
SELECT attrs || '{"seen": true}' AS doc, jsonb_typeof(attrs) AS t, jsonb_array_length(attrs -> 'sizes') AS n FROM customers, products
