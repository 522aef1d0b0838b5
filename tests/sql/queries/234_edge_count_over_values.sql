-- aggregate over VALUES
SELECT count(*) FROM (VALUES (1), (2)) v
