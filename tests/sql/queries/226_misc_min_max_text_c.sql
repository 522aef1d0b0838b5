-- text min/max under C and en_US
SELECT min(w) AS first_c, max(w COLLATE "en_US") AS last_en FROM words
