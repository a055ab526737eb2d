-- dbops:lint-ignore my-drop-tabel typo in the rule
DROP TABLE lint_gone;
