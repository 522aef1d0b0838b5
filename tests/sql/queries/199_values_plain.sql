-- VALUES as the query
VALUES (1, 'one'), (2, 'two')
