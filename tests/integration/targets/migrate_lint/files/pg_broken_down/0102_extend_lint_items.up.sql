ALTER TABLE lint_items ADD COLUMN b bigint;

CREATE INDEX lint_items_a_index ON lint_items (a);
