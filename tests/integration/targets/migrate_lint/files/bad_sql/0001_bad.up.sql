CREATE TABLE lint_ok (id bigint);

CREATE TABLE lint_bad (
    a int,
    b foo bar
);
