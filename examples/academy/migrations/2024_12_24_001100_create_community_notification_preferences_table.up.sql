-- Per user and community notification settings: channels, event switches and digest rhythm.

CREATE TABLE community_notification_preferences (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    community_id BIGINT UNSIGNED NOT NULL,
    user_id BIGINT UNSIGNED NOT NULL,
    in_app_enabled TINYINT(1) NOT NULL DEFAULT 1,
    email_enabled TINYINT(1) NOT NULL DEFAULT 1,
    push_enabled TINYINT(1) NOT NULL DEFAULT 0,
    notify_new_posts TINYINT(1) NOT NULL DEFAULT 1,
    notify_replies TINYINT(1) NOT NULL DEFAULT 1,
    notify_mentions TINYINT(1) NOT NULL DEFAULT 1,
    notify_announcements TINYINT(1) NOT NULL DEFAULT 1,
    digest_frequency ENUM('off', 'daily', 'weekly') NOT NULL DEFAULT 'weekly',
    muted_until TIMESTAMP NULL DEFAULT NULL,
    created_at TIMESTAMP NULL DEFAULT NULL,
    updated_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY community_notification_preferences_community_id_user_id_unique (community_id, user_id),
    KEY community_notification_preferences_user_id_index (user_id),
    CONSTRAINT community_notification_preferences_community_id_foreign
        FOREIGN KEY (community_id) REFERENCES communities (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
