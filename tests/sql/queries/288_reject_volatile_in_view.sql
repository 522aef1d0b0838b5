-- VOLATILE function inside a view
-- error: the function random(), which is VOLATILE, is not supported in the view public.volatile_view (used at line 1, column 16)
SELECT id FROM volatile_view
