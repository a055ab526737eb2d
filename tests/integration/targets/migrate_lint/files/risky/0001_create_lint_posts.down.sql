DROP TABLE lint_posts;
