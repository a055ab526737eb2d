-- Empties the tables the foundation seed fills, so the seed can be run again from scratch.
-- DELETE rather than TRUNCATE: InnoDB refuses TRUNCATE on a table that a foreign key points to.
-- The seeded starter communities go first, then the categories: if another community still uses a
-- category, the run stops on purpose before anything else is removed, since this rollback is meant
-- for the fresh schema of step 6.
-- Members keep their rows when their level goes (level_id is set to NULL).

DELETE FROM communities WHERE slug IN ('academy-programming', 'academy-data-science', 'academy-careers');

DELETE FROM community_categories;

DELETE FROM community_levels;

DELETE FROM community_points_rules;
