-- Folds community_posts back into one unpartitioned table and drops the feed index.

ALTER TABLE community_posts
    REMOVE PARTITIONING;

ALTER TABLE community_posts
    DROP INDEX community_posts_feed_idx;
