-- Up Migration
CREATE TABLE user_troops (
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    troop_id text NOT NULL,
    count integer NOT NULL CHECK (count >= 0),
    level integer NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, troop_id)
);

-- Down Migration
DROP TABLE user_troops;
