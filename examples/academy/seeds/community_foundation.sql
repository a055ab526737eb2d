-- Foundation data for communities: categories, member levels, points rules and the official starter
-- communities (one per launch category, owned by no user), so the feed has something to show on day one.
-- Safe to run again: every row is keyed by its unique slug or action key and is refreshed in place.
-- updated_at is set first and only moves when a value really differs, so a repeat run changes no row.
-- VALUES(col) works on MariaDB and MySQL 8 alike (MySQL 8.0.20+ only warns that it is deprecated).

INSERT INTO community_categories (slug, name, description, icon, sort_order, is_active, created_at, updated_at)
VALUES
    ('programming', 'Programming', 'Languages, frameworks and code reviews.', 'icons/programming.svg', 10, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('data-science', 'Data Science', 'Statistics, machine learning and data tooling.', 'icons/data-science.svg', 20, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('design', 'Design', 'Product, interface and visual design.', 'icons/design.svg', 30, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('languages', 'Languages', 'Learning and practising spoken languages.', 'icons/languages.svg', 40, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('career', 'Career', 'Job hunting, interviews and growing at work.', 'icons/career.svg', 50, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('study-groups', 'Study Groups', 'Learners working through a course together.', 'icons/study-groups.svg', 60, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('local-meetups', 'Local Meetups', 'Groups that also meet in person near you.', 'icons/local-meetups.svg', 70, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
ON DUPLICATE KEY UPDATE
    updated_at = IF(
        name <=> VALUES(name)
        AND description <=> VALUES(description)
        AND icon <=> VALUES(icon)
        AND sort_order <=> VALUES(sort_order)
        AND is_active <=> VALUES(is_active),
        updated_at,
        CURRENT_TIMESTAMP
    ),
    name = VALUES(name),
    description = VALUES(description),
    icon = VALUES(icon),
    sort_order = VALUES(sort_order),
    is_active = VALUES(is_active);

INSERT INTO community_levels (slug, level, name, min_points, badge_color, perks, created_at, updated_at)
VALUES
    ('newcomer', 1, 'Newcomer', 0, '#9CA3AF', '[]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('contributor', 2, 'Contributor', 100, '#60A5FA', '["custom_avatar_frame"]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('regular', 3, 'Regular', 500, '#34D399', '["custom_avatar_frame", "create_polls"]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('mentor', 4, 'Mentor', 2000, '#FBBF24', '["custom_avatar_frame", "create_polls", "pin_answers"]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('luminary', 5, 'Luminary', 10000, '#F472B6', '["custom_avatar_frame", "create_polls", "pin_answers", "host_events"]', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
ON DUPLICATE KEY UPDATE
    updated_at = IF(
        level <=> VALUES(level)
        AND name <=> VALUES(name)
        AND min_points <=> VALUES(min_points)
        AND badge_color <=> VALUES(badge_color)
        AND perks <=> VALUES(perks),
        updated_at,
        CURRENT_TIMESTAMP
    ),
    level = VALUES(level),
    name = VALUES(name),
    min_points = VALUES(min_points),
    badge_color = VALUES(badge_color),
    perks = VALUES(perks);

INSERT INTO community_points_rules (action_key, description, points, daily_cap, cooldown_seconds, is_active, created_at, updated_at)
VALUES
    ('community.joined', 'Joined a community', 5, 50, 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('post.created', 'Published a post', 10, 100, 60, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('comment.created', 'Wrote a comment', 3, 60, 15, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('post.liked', 'Received a like on a post', 1, 200, 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('answer.accepted', 'Had an answer accepted', 25, NULL, 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP),
    ('post.removed_by_moderator', 'Had a post removed by a moderator', -20, NULL, 0, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
ON DUPLICATE KEY UPDATE
    updated_at = IF(
        description <=> VALUES(description)
        AND points <=> VALUES(points)
        AND daily_cap <=> VALUES(daily_cap)
        AND cooldown_seconds <=> VALUES(cooldown_seconds)
        AND is_active <=> VALUES(is_active),
        updated_at,
        CURRENT_TIMESTAMP
    ),
    description = VALUES(description),
    points = VALUES(points),
    daily_cap = VALUES(daily_cap),
    cooldown_seconds = VALUES(cooldown_seconds),
    is_active = VALUES(is_active);

INSERT INTO communities (category_id, slug, name, description, visibility, join_policy, created_at, updated_at)
SELECT c.id, starter.slug, starter.name, starter.description, 'public', 'open', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP
FROM (
    SELECT 'programming' AS category, 'academy-programming' AS slug, 'Academy Programming' AS name,
           'The official community for programming courses.' AS description
    UNION ALL SELECT 'data-science', 'academy-data-science', 'Academy Data Science',
           'The official community for data science courses.'
    UNION ALL SELECT 'career', 'academy-careers', 'Academy Careers',
           'Career advice and job postings from the Academy team.'
) AS starter
JOIN community_categories c ON c.slug = starter.category
ON DUPLICATE KEY UPDATE
    updated_at = IF(
        communities.category_id <=> VALUES(category_id)
        AND communities.name <=> VALUES(name)
        AND communities.description <=> VALUES(description),
        communities.updated_at,
        CURRENT_TIMESTAMP
    ),
    category_id = VALUES(category_id),
    name = VALUES(name),
    description = VALUES(description);
