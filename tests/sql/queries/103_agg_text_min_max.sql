-- text min/max under collations
SELECT min(name) AS first, max(name) AS last, min(w) AS wc, max(w2) AS w2 FROM customers, words
