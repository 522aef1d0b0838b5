-- IS [NOT] TRUE/FALSE
SELECT id, vip IS TRUE AS t, vip IS NOT FALSE AS nf FROM customers
