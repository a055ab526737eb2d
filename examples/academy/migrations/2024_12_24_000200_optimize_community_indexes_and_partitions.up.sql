-- Adds the feed index to community_posts, then spreads the table over 16 hash partitions on id.
-- Works only because no foreign key touches community_posts and its only unique key is the id.

ALTER TABLE community_posts
    ADD INDEX community_posts_feed_idx (community_id, status, published_at);

ALTER TABLE community_posts
    PARTITION BY HASH (id)
    PARTITIONS 16;
