-- Up Migration
CREATE TABLE etl_errors (
    id bigserial PRIMARY KEY,
    snapshot_id bigint REFERENCES hero_snapshots (id) ON DELETE CASCADE,
    error_type text NOT NULL,
    message text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX etl_errors_snapshot_id_idx ON etl_errors (snapshot_id);
CREATE INDEX etl_errors_created_at_idx ON etl_errors (created_at);

-- Down Migration
DROP TABLE etl_errors;
