-- an untyped literal becomes text
SELECT id, 'label' AS kind FROM orders
