DROP TABLE lint_items;
