-- Saved searches: a user's named query with its filters and option flags kept as JSON.

CREATE TABLE search_saved_queries (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    user_id BIGINT UNSIGNED NOT NULL,
    name VARCHAR(120) NOT NULL,
    scope ENUM('all', 'communities', 'posts', 'members') NOT NULL DEFAULT 'all',
    query_text VARCHAR(500) NULL,
    filters JSON NOT NULL,
    flags JSON NULL,
    sort_by VARCHAR(40) NULL,
    notify_on_new_results TINYINT(1) NOT NULL DEFAULT 0,
    last_run_at TIMESTAMP NULL DEFAULT NULL,
    last_result_count INT UNSIGNED NULL,
    created_at TIMESTAMP NULL DEFAULT NULL,
    updated_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY search_saved_queries_user_id_name_unique (user_id, name),
    KEY search_saved_queries_scope_index (scope)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
