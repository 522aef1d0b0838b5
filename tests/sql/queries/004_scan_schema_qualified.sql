-- schema-qualified table
SELECT region, target FROM sales.targets
