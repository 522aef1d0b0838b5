-- more built-in functions
SELECT id, md5(name) AS h, encode(sha256(name::bytea), 'hex') AS hex, initcap(name) AS i, reverse(name) AS r FROM customers
