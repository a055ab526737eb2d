ALTER TABLE lint_no_such_table ADD COLUMN x bigint;
