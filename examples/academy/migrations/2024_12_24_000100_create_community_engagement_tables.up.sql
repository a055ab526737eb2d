-- Engagement layer: levels and points rules, memberships, posts, threaded comments and likes.
-- community_posts gets no foreign keys, and nothing gets one pointing at it: migration 000200
-- partitions it, and partitioned InnoDB tables cannot take part in foreign keys (see README.md).

CREATE TABLE community_levels (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    slug VARCHAR(60) NOT NULL,
    level SMALLINT UNSIGNED NOT NULL,
    name VARCHAR(120) NOT NULL,
    min_points INT UNSIGNED NOT NULL DEFAULT 0,
    badge_color CHAR(7) NULL,
    perks JSON NULL,
    created_at TIMESTAMP NULL DEFAULT NULL,
    updated_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY community_levels_slug_unique (slug),
    UNIQUE KEY community_levels_level_unique (level),
    KEY community_levels_min_points_index (min_points)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE community_points_rules (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    action_key VARCHAR(80) NOT NULL,
    description VARCHAR(255) NULL,
    points INT NOT NULL,
    daily_cap INT UNSIGNED NULL,
    cooldown_seconds INT UNSIGNED NOT NULL DEFAULT 0,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    created_at TIMESTAMP NULL DEFAULT NULL,
    updated_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY community_points_rules_action_key_unique (action_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE community_members (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    community_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    level_id BIGINT UNSIGNED NULL,
    role ENUM('owner', 'moderator', 'member') NOT NULL DEFAULT 'member',
    status ENUM('pending', 'active', 'banned', 'left') NOT NULL DEFAULT 'active',
    points INT UNSIGNED NOT NULL DEFAULT 0,
    joined_at TIMESTAMP NULL DEFAULT NULL,
    created_at TIMESTAMP NULL DEFAULT NULL,
    updated_at TIMESTAMP NULL DEFAULT NULL,
    deleted_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY community_members_community_id_user_id_unique (community_id, user_id),
    KEY community_members_user_id_index (user_id),
    KEY community_members_level_id_index (level_id),
    KEY community_members_community_id_status_role_index (community_id, status, role),
    CONSTRAINT community_members_community_id_foreign
        FOREIGN KEY (community_id) REFERENCES communities (id)
        ON DELETE CASCADE,
    CONSTRAINT community_members_level_id_foreign
        FOREIGN KEY (level_id) REFERENCES community_levels (id)
        ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE community_posts (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    community_id BIGINT UNSIGNED NOT NULL,
    author_id BIGINT UNSIGNED NOT NULL,
    title VARCHAR(255) NULL,
    body MEDIUMTEXT NOT NULL,
    status ENUM('draft', 'published', 'hidden') NOT NULL DEFAULT 'draft',
    is_pinned TINYINT(1) NOT NULL DEFAULT 0,
    comments_count INT UNSIGNED NOT NULL DEFAULT 0,
    likes_count INT UNSIGNED NOT NULL DEFAULT 0,
    published_at TIMESTAMP NULL DEFAULT NULL,
    created_at TIMESTAMP NULL DEFAULT NULL,
    updated_at TIMESTAMP NULL DEFAULT NULL,
    deleted_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (id),
    KEY community_posts_community_id_index (community_id),
    KEY community_posts_author_id_index (author_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE community_post_comments (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    post_id BIGINT UNSIGNED NOT NULL,
    parent_id BIGINT UNSIGNED NULL,
    author_id BIGINT UNSIGNED NOT NULL,
    body TEXT NOT NULL,
    status ENUM('visible', 'hidden', 'flagged') NOT NULL DEFAULT 'visible',
    created_at TIMESTAMP NULL DEFAULT NULL,
    updated_at TIMESTAMP NULL DEFAULT NULL,
    deleted_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (id),
    KEY community_post_comments_post_id_created_at_index (post_id, created_at),
    KEY community_post_comments_parent_id_index (parent_id),
    KEY community_post_comments_author_id_index (author_id),
    CONSTRAINT community_post_comments_parent_id_foreign
        FOREIGN KEY (parent_id) REFERENCES community_post_comments (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE community_post_likes (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    post_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    reaction VARCHAR(20) NOT NULL DEFAULT 'like',
    created_at TIMESTAMP NULL DEFAULT NULL,
    updated_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY community_post_likes_post_id_user_id_unique (post_id, user_id),
    KEY community_post_likes_user_id_index (user_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
