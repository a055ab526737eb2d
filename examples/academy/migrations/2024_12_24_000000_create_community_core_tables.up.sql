-- Core community schema: places, a category tree and the communities themselves.

CREATE TABLE geo_places (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name VARCHAR(255) NOT NULL,
    country_code CHAR(2) NOT NULL,
    region VARCHAR(255) NULL,
    city VARCHAR(255) NULL,
    latitude DECIMAL(10, 7) NULL,
    longitude DECIMAL(10, 7) NULL,
    timezone VARCHAR(64) NULL,
    created_at TIMESTAMP NULL DEFAULT NULL,
    updated_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (id),
    KEY geo_places_country_code_city_index (country_code, city),
    CONSTRAINT geo_places_latitude_check CHECK (latitude IS NULL OR latitude BETWEEN -90 AND 90),
    CONSTRAINT geo_places_longitude_check CHECK (longitude IS NULL OR longitude BETWEEN -180 AND 180)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE community_categories (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    parent_id BIGINT UNSIGNED NULL,
    slug VARCHAR(120) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description TEXT NULL,
    icon VARCHAR(255) NULL,
    sort_order INT UNSIGNED NOT NULL DEFAULT 0,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    created_at TIMESTAMP NULL DEFAULT NULL,
    updated_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY community_categories_slug_unique (slug),
    KEY community_categories_parent_id_sort_order_index (parent_id, sort_order),
    CONSTRAINT community_categories_parent_id_foreign
        FOREIGN KEY (parent_id) REFERENCES community_categories (id)
        ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE communities (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    category_id BIGINT UNSIGNED NULL,
    geo_place_id BIGINT UNSIGNED NULL,
    owner_id BIGINT UNSIGNED NULL,
    slug VARCHAR(160) NOT NULL,
    name VARCHAR(255) NOT NULL,
    description TEXT NULL,
    cover_image_path VARCHAR(255) NULL,
    visibility ENUM('public', 'private', 'hidden') NOT NULL DEFAULT 'public',
    join_policy ENUM('open', 'request', 'invite') NOT NULL DEFAULT 'open',
    members_count INT UNSIGNED NOT NULL DEFAULT 0,
    posts_count INT UNSIGNED NOT NULL DEFAULT 0,
    created_at TIMESTAMP NULL DEFAULT NULL,
    updated_at TIMESTAMP NULL DEFAULT NULL,
    deleted_at TIMESTAMP NULL DEFAULT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY communities_slug_unique (slug),
    KEY communities_category_id_index (category_id),
    KEY communities_geo_place_id_index (geo_place_id),
    KEY communities_owner_id_index (owner_id),
    KEY communities_visibility_join_policy_index (visibility, join_policy),
    CONSTRAINT communities_category_id_foreign
        FOREIGN KEY (category_id) REFERENCES community_categories (id)
        ON DELETE RESTRICT,
    CONSTRAINT communities_geo_place_id_foreign
        FOREIGN KEY (geo_place_id) REFERENCES geo_places (id)
        ON DELETE SET NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
