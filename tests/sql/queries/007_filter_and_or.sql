-- AND / OR
SELECT id FROM orders WHERE (status = 'paid' OR status = 'new') AND amount > 50
