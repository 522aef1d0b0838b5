-- keyless source with REPLICA IDENTITY FULL
SELECT kind, count(*) FROM events GROUP BY kind
