-- pgcrypto, which seed 002 preflight checks for: gen_random_uuid() (core only since PostgreSQL 13), digest().
-- Up Migration
CREATE EXTENSION IF NOT EXISTS pgcrypto;

-- Down Migration
DROP EXTENSION IF EXISTS pgcrypto;
