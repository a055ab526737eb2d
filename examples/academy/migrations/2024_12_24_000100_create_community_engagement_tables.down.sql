-- Removes the engagement tables, each before anything it points to.

DROP TABLE IF EXISTS community_post_likes;

DROP TABLE IF EXISTS community_post_comments;

DROP TABLE IF EXISTS community_posts;

DROP TABLE IF EXISTS community_members;

DROP TABLE IF EXISTS community_points_rules;

DROP TABLE IF EXISTS community_levels;
