-- partitioned table in a join
SELECT m.city, m.temp, c.name FROM measurements m JOIN customers c ON c.region = lower(m.city)
