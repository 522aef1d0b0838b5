-- string_agg ORDER BY under en_US
SELECT lang, string_agg(w2, ',' ORDER BY w2) AS words FROM words GROUP BY lang
