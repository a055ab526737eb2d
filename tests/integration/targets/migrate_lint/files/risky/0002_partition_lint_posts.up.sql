-- Spreads lint_posts over hash partitions: copies the table.
ALTER TABLE lint_posts PARTITION BY HASH (id) PARTITIONS 4;
