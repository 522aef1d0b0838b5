-- string functions
SELECT lower(name), upper(name), length(name), substr(name, 1, 2), replace(name, 'a', 'o'), split_part(email, '@', 2), position('@' IN email), trim(both ' ' FROM name), btrim(name), left(name, 1), right(name, 2), lpad(name, 6, '*'), strpos(name, 'n') FROM customers
