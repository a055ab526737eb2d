-- Raw hero payloads as the game client sends them; the ETL worker turns each into summary rows.
-- Up Migration
CREATE TABLE hero_snapshots (
    id bigserial PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    raw jsonb NOT NULL,
    processed_at timestamptz,
    error_count integer NOT NULL DEFAULT 0,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX hero_snapshots_user_id_idx ON hero_snapshots (user_id);
-- The worker's queue: snapshots not processed yet, oldest first.
CREATE INDEX hero_snapshots_pending_idx ON hero_snapshots (created_at) WHERE processed_at IS NULL;

-- Down Migration
DROP TABLE hero_snapshots;
