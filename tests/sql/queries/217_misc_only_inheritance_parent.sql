-- ONLY on an inheritance parent reads the parent alone
SELECT id, wheels FROM ONLY vehicles
