ALTER TABLE lint_items ADD COLUMN b INT NULL, ADD INDEX lint_items_a_index (a);
