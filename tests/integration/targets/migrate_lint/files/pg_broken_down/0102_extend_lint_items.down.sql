-- Deliberately broken: forgets the index the up file added.
ALTER TABLE lint_items DROP COLUMN b;
