-- dbops:no-transaction
-- CREATE INDEX CONCURRENTLY refuses to run in a transaction block, so this file holds that one
-- statement per section: migrate_apply runs it outside a transaction because of the marker above
-- (node-pg-migrate ignores the comment; see examples/starforge/README.md for running it there).
-- Up Migration
CREATE INDEX CONCURRENTLY IF NOT EXISTS hero_snapshots_raw_gin_idx ON hero_snapshots USING gin (raw jsonb_path_ops);

-- Down Migration
DROP INDEX CONCURRENTLY IF EXISTS hero_snapshots_raw_gin_idx;
