-- Up Migration
CREATE TABLE user_profile_summary (
    user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hero_name text NOT NULL,
    level integer NOT NULL,
    power bigint NOT NULL,
    troop_count integer NOT NULL,
    last_snapshot_id bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE user_profile_summary;
