-- TABLE name
TABLE orders
