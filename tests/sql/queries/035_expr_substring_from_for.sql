-- SQL-syntax string functions
SELECT substring(name FROM 2 FOR 2) AS mid, overlay(name placing 'X' from 1 for 1) AS o FROM customers
