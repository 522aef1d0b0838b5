-- COLLATE clauses
SELECT w COLLATE "en_US" AS w_en, w2 COLLATE "C" AS w2_c FROM words
